"""HTTP for providers: explicit timeouts, bodies streamed from a clip with a deadline, and
the mapping of plain HTTP failures onto the platform error set."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO, TypeVar

import httpx

import autopost.infra.observability  # noqa: F401 - clamps the loggers that would show tokens
from autopost.domain.errors import (
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
    Rejected,
    TokenExpired,
)

CHUNK = 1024 * 1024
# Chunks read ahead of the send: memory stays at a few MB whatever the file size.
READ_AHEAD = 4
# Every call has these; uploads add an overall deadline on top (see `stream_body`).
TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)

T = TypeVar("T")


class UploadDeadlineExceeded(PlatformUnavailable):
    pass


def new_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False)


def guarded(call: Callable[[], T], name: str) -> T:
    """Run an HTTP call; transport failures become PlatformUnavailable (no URL in the message)."""
    try:
        return call()
    except PlatformError:
        raise
    except httpx.TimeoutException as exc:
        raise PlatformUnavailable(f"{name} не ответил вовремя") from exc
    except httpx.HTTPError as exc:
        raise PlatformUnavailable(f"{name} недоступен, попробуйте позже") from exc


def stream_body(
    source: BinaryIO, length: int, deadline: float | None, timeout_message: str
) -> Iterator[bytes]:
    """Exactly `length` bytes of `source`, a chunk at a time; fails once the deadline passes."""
    remaining = length
    while remaining > 0:
        if deadline is not None and time.monotonic() > deadline:
            raise UploadDeadlineExceeded(timeout_message)
        data = source.read(min(CHUNK, remaining))
        if not data:
            raise PlatformUnavailable("Файл клипа прочитан не полностью")
        remaining -= len(data)
        yield data


def multipart(
    fields: dict[str, str],
    file_field: str,
    filename: str,
    content_type: str,
    source: BinaryIO,
    size: int,
    deadline: float | None,
    timeout_message: str,
) -> tuple[dict[str, str], Iterator[bytes]]:
    """A multipart/form-data body streamed from `source`, with its exact Content-Length
    (S3 bodies are not seekable, so httpx could only send them chunked)."""
    boundary = secrets.token_hex(16)
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from stream_body(source, size, deadline, timeout_message)
        yield tail

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
    }
    return headers, body()


def retry_after(response: httpx.Response, default: float = 60.0) -> float:
    value = response.headers.get("retry-after")
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        try:
            return max(1.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return default


def raise_for_status(response: httpx.Response, name: str, rejected: str | None = None) -> None:
    """The common HTTP forms: 401/403 token, 429 with Retry-After, 5xx down, other 4xx refused."""
    status = response.status_code
    if status < 400:
        return
    if status == 401:
        raise TokenExpired()
    if status == 429:
        raise PlatformRateLimited(retry_after(response))
    if status >= 500 or status == 408:
        raise PlatformUnavailable(f"{name} временно недоступен")
    raise Rejected(rejected or f"{name} отклонил запрос (HTTP {status})")


def json_of(response: httpx.Response, name: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise PlatformUnavailable(f"{name} ответил непонятно, попробуйте позже") from exc
