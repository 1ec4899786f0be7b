"""Lambda functions run in-process: each concurrent environment is a separate copy of the
handler module, as each Lambda environment has its own module state (powertools resolvers
and batch processors keep per-invocation state, so one copy serves one call at a time)."""

from __future__ import annotations

import importlib.util
import os
import queue
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from devstack.provision import FunctionSpec
from devstack.template import ROOT


@dataclass
class InvocationContext:
    """What the Lambda runtime hands a handler (the fields powertools reads)."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionPool:
    """Up to `concurrency` environments of one function; `invoke` waits for a free one."""

    def __init__(self, spec: FunctionSpec, concurrency: int = 1, traced: bool = False) -> None:
        self.spec = spec
        self._traced = traced
        self._free: queue.Queue[ModuleType] = queue.Queue()
        self._created = 0
        self._limit = concurrency
        self._lock = threading.Lock()

    def _environment(self) -> ModuleType:
        path = ROOT / self.spec.code_uri / f"{self.spec.handler.rpartition('.')[0]}.py"
        with self._lock:
            self._created += 1
            name = f"{self.spec.module}__local_env_{self._created}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise RuntimeError(f"cannot load {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module

    def invoke(self, event: dict[str, Any]) -> Any:
        try:
            environment = self._free.get_nowait()
        except queue.Empty:
            with self._lock:
                room = self._created < self._limit
            environment = self._environment() if room else self._free.get()
        if self._traced:
            # What the Lambda runtime sets for each invocation of a traced function.
            os.environ["_X_AMZN_TRACE_ID"] = (
                f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=1"
            )
        try:
            handler = getattr(environment, self.spec.function_name)
            return handler(event, InvocationContext(self.spec.logical_id, self.spec.timeout))
        finally:
            self._free.put(environment)
