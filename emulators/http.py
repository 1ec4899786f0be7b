"""The emulators' HTTP plumbing: a threaded loopback server, streaming bodies, multipart."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

CHUNK = 1024 * 1024


class Readable(Protocol):
    """A request body: the socket's file, or a stream that cuts it short (a fault)."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Readable
    length: int | None
    raw_query: str = ""
    # The caller's address: VK binds some tokens to the address that got them.
    client: str = ""

    def query_all(self, name: str) -> list[str]:
        """Every value of a repeated query parameter (`ids=a&ids=b`)."""
        return parse_qs(self.raw_query, keep_blank_values=True).get(name, [])

    def cookies(self) -> dict[str, str]:
        found = {}
        for part in self.headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name:
                found[name] = value
        return found

    def read(self) -> bytes:
        return self.body.read() if self.length is None else self.body.read(self.length)

    def json(self) -> Any:
        raw = self.read()
        return json.loads(raw) if raw else {}

    def form(self) -> dict[str, str]:
        """Query parameters merged with an urlencoded body (VK accepts both)."""
        values = dict(self.query)
        if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            values.update(
                {k: v[0] for k, v in parse_qs(self.read().decode(), keep_blank_values=True).items()}
            )
        return values


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(
            status,
            json.dumps(payload, ensure_ascii=False).encode(),
            {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(302, b"", {"Location": location})


@dataclass
class Fault:
    """`kind`: http_500, rate_limit, token_expired, slow (delay seconds), cut (close after
    `after_bytes` of the body), lost_answer (the call takes effect, then the connection
    drops before the answer: what a caller dying mid-call sees), or a platform's own (e.g. VK's `restricted`, with `message`)."""

    kind: str
    retry_after: int = 1
    delay: float = 0.0
    after_bytes: int = 0
    message: str = ""


class CutConnection(Exception):
    """Drop the connection without an answer, as a broken network does."""


@dataclass
class FilePart:
    field: str
    filename: str
    size: int
    sha256: str


def iter_body(handler: BaseHTTPRequestHandler, length: int | None, chunked: bool) -> Iterator[bytes]:
    if chunked:
        while True:
            size = int(handler.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                handler.rfile.readline()
                return
            remaining = size
            while remaining:
                data = handler.rfile.read(min(CHUNK, remaining))
                if not data:
                    return
                remaining -= len(data)
                yield data
            handler.rfile.readline()
    remaining = length or 0
    while remaining:
        data = handler.rfile.read(min(CHUNK, remaining))
        if not data:
            return
        remaining -= len(data)
        yield data


class _Stream:
    """A file-like view over body chunks (reads never hold more than a chunk or two)."""

    def __init__(self, chunks: Iterator[bytes], limit: Callable[[int], None] | None = None) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._seen = 0
        self._limit = limit

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            self._seen += len(chunk)
            if self._limit:
                self._limit(self._seen)
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def read_multipart(request: Request) -> tuple[dict[str, str], list[FilePart]]:
    """Fields and files of a multipart body, streamed: files are counted and hashed only."""
    match = re.search(r'boundary="?([^";]+)"?', request.headers.get("content-type", ""))
    if not match:
        raise ValueError("multipart body without a boundary")
    delimiter = b"\r\n--" + match.group(1).encode()
    fields: dict[str, str] = {}
    files: list[FilePart] = []
    buffer = b"\r\n" + request.body.read(CHUNK)
    start = buffer.find(delimiter)
    if start == -1:
        raise ValueError("no multipart part")
    buffer = buffer[start + len(delimiter) :]
    while True:
        while b"\r\n\r\n" not in buffer:
            more = request.body.read(CHUNK)
            if not more:
                return fields, files
            buffer += more
        if buffer.startswith(b"--"):
            return fields, files
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        disposition = head.decode(errors="replace")
        name = re.search(r'name="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        digest, size, value = hashlib.sha256(), 0, b""
        while True:
            index = buffer.find(delimiter)
            if index != -1:
                piece, buffer = buffer[:index], buffer[index + len(delimiter) :]
            else:
                keep = len(delimiter)
                piece, buffer = buffer[:-keep], buffer[-keep:]
            if filename:
                digest.update(piece)
                size += len(piece)
            else:
                value += piece
            if index != -1:
                break
            more = request.body.read(CHUNK)
            if not more:
                raise CutConnection()
            buffer += more
        if filename:
            files.append(FilePart(name.group(1) if name else "", filename.group(1), size, digest.hexdigest()))
        elif name:
            fields[name.group(1)] = value.decode()


class Emulator(ABC):
    """Base of the platform emulators: routing hook, recording, faults, control endpoints."""

    name = "emulator"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.calls: list[dict[str, Any]] = []
        # Every credential this platform handed out: what must never show in our logs.
        self.issued: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self.base_url = ""

    # -- what subclasses provide ----------------------------------------------------------

    @abstractmethod
    def route(self, request: Request) -> tuple[str, Callable[[Request], Response]] | None:
        """The endpoint name (for faults and records) and its handler, or None for 404."""

    @abstractmethod
    def fault_response(self, endpoint: str, fault: Fault) -> Response:
        """The platform's own answer for rate_limit / token_expired / http_500."""

    def state(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def reset_state(self) -> None:
        """Forget the platform's own records (videos, tokens, messages)."""

    # -- faults and records -------------------------------------------------------------

    def inject(self, endpoint: str, kind: str, times: int = 1, **options: Any) -> None:
        with self._lock:
            for _ in range(times):
                self._faults[endpoint].append(Fault(kind, **options))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(endpoint)
            return queue.popleft() if queue else None

    def record(self, endpoint: str, **details: Any) -> None:
        with self._lock:
            self.calls.append({"endpoint": endpoint, **details})

    def calls_to(self, endpoint: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self.calls if c["endpoint"] == endpoint]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._faults.clear()
            self.issued.clear()
        self.reset_state()

    # -- serving ------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        if request.path.startswith("/_emulator/"):
            return self._control(request)
        found = self.route(request)
        if found is None:
            return Response.json({"error": "not found", "path": request.path}, status=404)
        endpoint, handler = found
        fault = self.take_fault(endpoint)
        if fault is not None:
            self.record(endpoint, fault=fault.kind)
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "cut":
                request.body = _Stream(_chunks_of(request.body), limit=_cut_after(fault.after_bytes))
            elif fault.kind == "lost_answer":
                handler(request)
                raise CutConnection()
            else:
                request.read()
                return self.fault_response(endpoint, fault)
        return handler(request)

    def _control(self, request: Request) -> Response:
        if request.path == "/_emulator/state" and request.method == "GET":
            return Response.json(
                {"name": self.name, "calls": self.calls, "issued": self.issued, **self.state()}
            )
        if request.path == "/_emulator/faults" and request.method == "POST":
            spec = request.json()
            options = {k: spec[k] for k in ("retry_after", "delay", "after_bytes", "message") if k in spec}
            self.inject(spec["endpoint"], spec["kind"], int(spec.get("times", 1)), **options)
            return Response.json({"ok": True})
        if request.path == "/_emulator/reset" and request.method == "POST":
            self.reset()
            return Response.json({"ok": True})
        return self.control(request)

    def control(self, request: Request) -> Response:
        """Platform-specific set-up endpoints under /_emulator/ (tokens, bots, channels)."""
        return Response.json({"error": "unknown control"}, status=404)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, delayed ACKs stall each.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                length = int(headers["content-length"]) if "content-length" in headers else None
                chunked = headers.get("transfer-encoding", "").lower() == "chunked"
                body = _Stream(iter_body(self, length, chunked))
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    headers=headers,
                    body=body,
                    length=None,
                    raw_query=parts.query,
                    client=self.client_address[0],
                )
                try:
                    response = emulator.dispatch(request)
                except CutConnection:
                    self.close_connection = True
                    return
                while body.read(CHUNK):  # drain what the handler did not read
                    pass
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_HEAD = do_DELETE = _serve

        server = self._server = _Server((host, port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(
            # A short poll: stopping waits for it (the local stack stops four of these).
            target=lambda: server.serve_forever(poll_interval=0.1),
            name=f"{self.name}-emulator",
            daemon=True,
        )
        thread.start()
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # many uploads and calls at once, as a platform takes them
    daemon_threads = True


def _chunks_of(stream: Any) -> Iterator[bytes]:
    while data := stream.read(CHUNK):
        yield data


def _cut_after(limit: int) -> Callable[[int], None]:
    def check(seen: int) -> None:
        if seen > limit:
            raise CutConnection()

    return check
