"""X-Ray tracing for powertools' Tracer without the X-Ray SDK.

The SDK creates two botocore clients for centralized sampling when it is imported, which
Lambda never uses (Lambda decides sampling and passes it in `_X_AMZN_TRACE_ID`): about
0.15 s of every cold start, as much as `import boto3` itself. This provider (powertools'
`BaseProvider`) does what the SDK does in Lambda and nothing else: each subsegment is sent
to the daemon when it closes, as the SDK streams them in Lambda (powertools sets its
streaming threshold to 0), under the function's segment named by the trace header, and
every AWS SDK call becomes a subsegment named after the service, with the trace header
passed on to the service. Formats follow the X-Ray developer guide ("Segment documents",
"Sending segment documents to the X-Ray daemon") and aws-xray-sdk-python's botocore patch.

What a subsegment keeps: names, times, the AWS operation, region, table or queue and the
request id, HTTP status, annotations, and an exception's type (not its message, which can
carry a URL and so a token). Responses are never recorded.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.abc
import importlib.machinery
import importlib.util
import json
import numbers
import os
import secrets
import socket
import sys
import time
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

DAEMON_HEADER = b'{"format": "json", "version": 1}\n'
DEFAULT_DAEMON = ("127.0.0.1", 2000)
# Parameters the X-Ray SDK records for our services too (its aws_para_whitelist.json).
RECORDED_PARAMETERS = {
    "TableName": "table_name",
    "QueueUrl": "queue_url",
    "StateMachineArn": "state_machine_arn",
}


@dataclass(frozen=True)
class TraceHeader:
    root: str
    parent: str | None
    sampled: bool

    @classmethod
    def current(cls) -> TraceHeader | None:
        """Lambda sets `_X_AMZN_TRACE_ID` for each invocation: Root=…;Parent=…;Sampled=1."""
        fields = dict(
            part.split("=", 1) for part in os.environ.get("_X_AMZN_TRACE_ID", "").split(";") if "=" in part
        )
        if "Root" not in fields:
            return None
        return cls(fields["Root"], fields.get("Parent"), fields.get("Sampled") == "1")


class Subsegment(BaseSegment):
    def __init__(self, name: str, trace: TraceHeader | None, parent_id: str | None) -> None:
        self.trace = trace
        self.document: dict[str, Any] = {
            "type": "subsegment",
            "id": secrets.token_hex(8),
            "name": name[:200],
            "start_time": time.time(),
        }
        if trace is not None:
            self.document["trace_id"] = trace.root
        if parent_id is not None:
            self.document["parent_id"] = parent_id

    @property
    def id(self) -> str:
        return self.document["id"]

    def close(self, end_time: float | None = None) -> None:
        self.document["end_time"] = end_time or time.time()

    def add_subsegment(self, subsegment: Any) -> None:
        """Each subsegment is sent on its own and names its parent."""

    def remove_subsegment(self, subsegment: Any) -> None:
        """As add_subsegment."""

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        if isinstance(value, (str, numbers.Number, bool)):
            self.document.setdefault("annotations", {})[key] = value

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        if isinstance(value, BaseException):  # powertools' capture_error: the type only
            value = type(value).__name__
        self.document.setdefault("metadata", {}).setdefault(namespace, {})[key] = value

    def add_exception(self, exception: BaseException, stack: Any = None, remote: bool = False) -> None:
        self.document["fault"] = True
        self.document["cause"] = {
            "exceptions": [{"id": secrets.token_hex(8), "type": type(exception).__name__, "remote": remote}]
        }

    def set_aws(self, aws: dict[str, Any], status: int | None) -> None:
        self.document["namespace"] = "aws"
        self.document["aws"] = aws
        if status is not None:
            self.document["http"] = {"response": {"status": status}}
            if status == 429:
                self.document["throttle"] = True
            if 400 <= status < 500:
                self.document["error"] = True
            elif status >= 500:
                self.document["fault"] = True


class XRayProvider(BaseProvider):
    def __init__(self) -> None:
        self._current: contextvars.ContextVar[Subsegment | None] = contextvars.ContextVar(
            "autopost_subsegment", default=None
        )
        self._socket: socket.socket | None = None
        self._daemon: tuple[str, int] | None = None
        self._patched = False

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[Subsegment, None, None]:
        subsegment = self._begin(name or "subsegment")
        token = self._current.set(subsegment)
        try:
            yield subsegment
        except Exception as exc:
            subsegment.add_exception(exc)
            raise
        finally:
            self._current.reset(token)
            self._end(subsegment)

    @asynccontextmanager
    async def in_subsegment_async(
        self, name: str | None = None, **kwargs: Any
    ) -> AsyncGenerator[Subsegment, None]:
        with self.in_subsegment(name, **kwargs) as subsegment:
            yield subsegment

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        if (subsegment := self._current.get()) is not None:
            subsegment.put_annotation(key, value)

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        if (subsegment := self._current.get()) is not None:
            subsegment.put_metadata(key, value, namespace)

    def patch(self, modules: Sequence[str]) -> None:
        """Traces botocore's calls from the moment botocore is imported, without importing it:
        a handler that loads boto3 only for its first request does not pay for it at init."""
        unsupported = set(modules) - {"botocore"}
        if unsupported:
            raise ValueError(f"only botocore calls are traced, not {sorted(unsupported)}")
        if not modules or self._patched:
            return
        if "botocore.client" in sys.modules:
            self._patch_botocore()
        else:
            sys.meta_path.insert(0, _AfterImport("botocore.client", self._patch_botocore))

    def patch_all(self) -> None:
        self.patch(["botocore"])

    def _begin(self, name: str) -> Subsegment:
        trace = TraceHeader.current()
        parent = self._current.get()
        return Subsegment(name, trace, parent.id if parent else trace.parent if trace else None)

    def _end(self, subsegment: Subsegment) -> None:
        subsegment.close()
        if subsegment.trace is None or not subsegment.trace.sampled:
            return
        document = json.dumps(subsegment.document, default=str, ensure_ascii=False).encode()
        try:
            if self._socket is None or self._daemon is None:
                # Once per environment: the daemon's address does not change in Lambda.
                self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._daemon = _daemon_address()
            self._socket.sendto(DAEMON_HEADER + document, self._daemon)
        except OSError:
            pass  # a trace is never worth failing a request for; UDP is fire-and-forget anyway

    def _patch_botocore(self) -> None:
        from botocore.client import BaseClient
        from botocore.endpoint import Endpoint
        from botocore.exceptions import ClientError

        make_api_call = BaseClient._make_api_call
        prepare_request = Endpoint.prepare_request
        provider = self

        @functools.wraps(make_api_call)
        def traced_call(client: Any, operation: str, parameters: dict[str, Any]) -> Any:
            service = client.meta.service_model.metadata["endpointPrefix"]
            with provider.in_subsegment(service) as subsegment:
                aws = {"operation": operation, "region": client.meta.region_name}
                aws.update(
                    {name: parameters[key] for key, name in RECORDED_PARAMETERS.items() if key in parameters}
                )
                try:
                    result = make_api_call(client, operation, parameters)
                except ClientError as exc:
                    answer = exc.response.get("ResponseMetadata", {})
                    subsegment.set_aws(
                        {**aws, "request_id": answer.get("RequestId")}, answer.get("HTTPStatusCode")
                    )
                    raise
                answer = result.get("ResponseMetadata", {})
                subsegment.set_aws(
                    {**aws, "request_id": answer.get("RequestId")}, answer.get("HTTPStatusCode")
                )
                return result

        @functools.wraps(prepare_request)
        def with_trace_header(endpoint: Any, request: Any) -> Any:
            subsegment = provider._current.get()
            if subsegment is not None and subsegment.trace is not None:
                sampled = "1" if subsegment.trace.sampled else "0"
                request.headers["X-Amzn-Trace-Id"] = (
                    f"Root={subsegment.trace.root};Parent={subsegment.id};Sampled={sampled}"
                )
            return prepare_request(endpoint, request)

        BaseClient._make_api_call = traced_call
        Endpoint.prepare_request = with_trace_header
        self._patched = True


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `then` once the module `name` has been executed, wherever it is imported from."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name, self.then = name, then

    def find_spec(
        self, fullname: str, path: Any, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute, then = spec.loader.exec_module, self.then

        def exec_module(module: Any) -> None:
            execute(module)
            then()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _daemon_address() -> tuple[str, int]:
    """`AWS_XRAY_DAEMON_ADDRESS` is `host:port`, or `tcp:host:port udp:host:port`."""
    configured = os.environ.get("AWS_XRAY_DAEMON_ADDRESS", "")
    for part in configured.split():
        if part.startswith("tcp:"):
            continue
        host, _, port = part.removeprefix("udp:").rpartition(":")
        if host and port.isdigit():
            return host, int(port)
    return DEFAULT_DAEMON
