"""One Lambda execution environment: a process of its own, as in Lambda, with the function's
own environment variables, its own module state (powertools' logger keys, warm clients) and
one invocation at a time. The local stack talks to it over a pipe; killing the process is
what a crashed or timed-out Lambda is."""

from __future__ import annotations

import importlib.util
import os
import signal
import time
import traceback
import uuid
import warnings
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


@dataclass
class InvocationContext:
    """What the Lambda runtime hands a handler (the fields powertools reads)."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Environment:
    """What a new environment needs (picklable: it crosses into a spawned process)."""

    path: Path
    module_name: str
    handler_name: str
    function_name: str
    timeout_seconds: int
    memory_mb: int
    variables: dict[str, str]


def serve(connection: Connection, environment: Environment) -> None:
    """Init (the handler's module imported), then ("ready",); then the loop: an event in,
    ("ok", result) or ("error", type, message) out; None or a closed pipe ends it."""
    # Ctrl-C reaches the whole process group: the stack stops its environments itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(environment.variables)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    handler = getattr(_load(environment), environment.handler_name)
    connection.send(("ready",))
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        event, trace_id = message
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        context = InvocationContext(
            environment.function_name, environment.timeout_seconds, environment.memory_mb
        )
        try:
            answer: tuple[Any, ...] = ("ok", handler(event, context))
        except Exception as error:  # noqa: BLE001 - Lambda reports any error to its caller
            traceback.print_exc()
            answer = ("error", type(error).__name__, str(error))
        connection.send(answer)


def _load(environment: Environment) -> Any:
    spec = importlib.util.spec_from_file_location(environment.module_name, environment.path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {environment.path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
