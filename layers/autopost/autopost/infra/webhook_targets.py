"""Where a webhook may go, and the one request that goes there.

Server-side request forgery is the risk of any URL a user gives us: in AWS it could reach
the instance metadata service (169.254.169.254), a VPC address or a loopback port. So:

- https only, checked at registration and again at delivery;
- the host is resolved, and the delivery is refused if ANY resolved address is private,
  loopback, link-local, reserved, multicast, unspecified or otherwise not global (an IPv6
  address carrying an IPv4 one, mapped, 6to4 or Teredo, is judged by that IPv4 address too);
  a port outside 1-65535, an IPv6 zone or a malformed (IDNA) name is refused outright;
- each DNS lookup runs in a thread of its own, waited for what is left of the budget: one
  that hangs is abandoned and holds up no later lookup;
- the request then connects to the checked address itself: the URL carries the IP, the
  `Host` header and TLS's SNI and certificate check carry the name, so a second DNS answer
  (rebinding) never decides where it goes;
- redirects are never followed (a 3xx is a failed delivery), no proxy from the environment
  is used, and at most 1 KiB of an error answer is read (none of a 2xx's);
- a delivery has one budget (`WEBHOOK_TIMEOUT_SECONDS`) for all of it: DNS, connect, TLS,
  sending, the answer's headers and its excerpt. Every socket operation waits only for what
  is left of it, so a receiver trickling a byte at a time cannot hold the function;
- no connection is kept alive: each delivery has a connection of its own, as one verified
  for one name must not carry a request for another name on the same address.

Locally (the local stack, tests) `WEBHOOK_ALLOW_PRIVATE_TARGETS` lets a receiver on this
machine take deliveries, and `WEBHOOK_CA_FILE` trusts its self-signed certificate.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import certifi
import httpcore
import httpx

import autopost.infra.observability  # noqa: F401 - clamps the loggers that would show URLs
from autopost.domain.errors import WebhookUrlInvalid

MAX_URL_LENGTH = 2048
ANSWER_BYTES = 1024
USER_AGENT = "autopost-webhooks/1.0"
# At most this much of the request is written per socket call, each waiting only for what is
# left of the delivery's budget.
_WRITE_CHUNK = 4096

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Unresolvable(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    ok: bool
    error: str | None


def is_internal(address: IPAddress) -> bool:
    """True for every address a webhook must not reach from inside AWS. An IPv6 address that
    carries an IPv4 one (mapped, 6to4, Teredo) is judged by that IPv4 address too."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return True  # a zone: only meaningful on a local link
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        else:
            # 6to4 (2002::/16) and Teredo (2001::/32; its server and client) carry IPv4 ones.
            embedded = [address.sixtofour, *(address.teredo or ())]
            if any(is_internal(v4) for v4 in embedded if v4 is not None):
                return True
    return (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def parse(url: str) -> httpx.URL:
    """An absolute https URL with a host and no credentials, or WebhookUrlInvalid."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlInvalid("Слишком длинный адрес вебхука")
    try:
        parsed = httpx.URL(url)
        # Decoding the name (IDNA) is where a malformed A-label ("xn--") fails.
        scheme, host, raw_host, port = parsed.scheme, parsed.host, parsed.raw_host, parsed.port
        raw_host.decode("ascii")
    except (httpx.InvalidURL, ValueError) as exc:  # idna.IDNAError is a UnicodeError
        raise WebhookUrlInvalid("Некорректный адрес вебхука") from exc
    if scheme != "https":
        raise WebhookUrlInvalid("Адрес вебхука должен начинаться с https://")
    if not host:
        raise WebhookUrlInvalid("В адресе вебхука нет имени сервера")
    if parsed.userinfo:
        raise WebhookUrlInvalid("Адрес вебхука не должен содержать логин и пароль")
    if port is not None and not 1 <= port <= 65535:
        raise WebhookUrlInvalid("Порт в адресе вебхука должен быть от 1 до 65535")
    if b"%" in raw_host:
        raise WebhookUrlInvalid("Адрес вебхука не должен содержать зону IPv6 (%)")
    return parsed


def _lookup(host: str, port: int, timeout: float) -> list[Any]:
    """getaddrinfo, waited for `timeout` at most. It has no timeout of its own, so it runs in
    a thread of its own: one that gives up leaves its thread to finish alone (the resolver's
    own retries end it), and no later lookup ever waits behind it."""
    answer: dict[str, Any] = {}

    def run() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            answer["error"] = exc

    thread = threading.Thread(target=run, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(max(timeout, 0.0))
    if "infos" in answer:
        return answer["infos"]
    raise Unresolvable(host) from answer.get("error")


def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """Every address the name has now (an IP literal is its own), or Unresolvable."""
    infos = _lookup(host, port, timeout)
    addresses: list[IPAddress] = []
    for info in infos:
        # An IPv6 link-local answer carries its zone ("fe80::1%eth0"): it is internal anyway.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Unresolvable(host)
    return addresses


def check_registration(url: str, allow_private: bool, timeout: float) -> str:
    """The URL to store, or WebhookUrlInvalid: https, and in AWS not an internal address.
    A name that does not resolve yet is accepted: every delivery checks again."""
    parsed = parse(url.strip())
    if not allow_private:
        host = parsed.raw_host.decode("ascii")
        if host == "localhost" or host.endswith(".localhost"):
            raise WebhookUrlInvalid(_INTERNAL)
        try:
            addresses = resolve(host, parsed.port or 443, timeout)
        except Unresolvable:
            addresses = []
        if any(is_internal(a) for a in addresses):
            raise WebhookUrlInvalid(_INTERNAL)
    return str(parsed)


_INTERNAL = "Адрес вебхука ведёт во внутреннюю сеть: нужен публичный адрес"


class Sender:
    """Posts signed bodies to endpoints, one checked connection per delivery, each delivery
    within `timeout` seconds in all."""

    def __init__(self, timeout: float, allow_private: bool = False, ca_file: str | None = None) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        self._context = ssl.create_default_context(cafile=certifi.where())
        if ca_file:
            self._context.load_verify_locations(cafile=ca_file)

    @property
    def budget(self) -> float:
        """Seconds one delivery may take at most, from its DNS lookup to its answer."""
        return self._timeout

    def close(self) -> None:
        """Nothing is kept between deliveries."""

    def post(self, url: str, headers: dict[str, str], body: str) -> Outcome:
        deadline = time.monotonic() + self._timeout
        try:
            parsed = parse(url)
        except WebhookUrlInvalid as exc:
            return Outcome(None, False, exc.message)
        host, port = parsed.raw_host.decode("ascii"), parsed.port or 443  # IDNA: punycode
        try:
            addresses = resolve(host, port, deadline - time.monotonic())
        except Unresolvable:
            return Outcome(None, False, "Не удалось найти адрес сервера (DNS)")
        if not self._allow_private and any(is_internal(a) for a in addresses):
            return Outcome(None, False, "Адрес ведёт во внутреннюю сеть: доставка запрещена")
        target = addresses[0]
        name = f"[{host}]" if ":" in host else host
        content = body.encode()
        request_headers = [
            *headers.items(),
            ("Host", name if parsed.port is None else f"{name}:{parsed.port}"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(content))),
            ("User-Agent", USER_AGENT),
            # The excerpt is read as sent: nothing to decompress, however large it would grow.
            ("Accept-Encoding", "identity"),
            ("Connection", "close"),
        ]
        # The checked address itself; the name goes in Host, SNI and the certificate check.
        request_url = httpcore.URL(
            scheme=b"https", host=str(target).encode("ascii"), port=port, target=parsed.raw_path
        )
        timed_out = Outcome(None, False, f"Получатель не ответил за {self._timeout:g} с")
        # A pool of one connection for this delivery alone, never kept alive: a connection
        # verified for one name never carries a request for another name on the same address.
        pool = httpcore.ConnectionPool(
            ssl_context=self._context,
            max_connections=1,
            max_keepalive_connections=0,
            network_backend=_DeadlineBackend(deadline),
        )
        try:
            with (
                pool,
                pool.stream(
                    "POST",
                    request_url,
                    headers=request_headers,
                    content=content,
                    extensions={"sni_hostname": host},
                ) as response,
            ):
                status = response.status
                if 200 <= status < 300:
                    # Delivered: its body is never read (closing the connection drops it).
                    return Outcome(status, True, None)
                if 300 <= status < 400:
                    return Outcome(
                        status,
                        False,
                        f"HTTP {status}: перенаправления не выполняются, укажите итоговый адрес",
                    )
                answer = _read_capped(response.iter_stream())
        except httpcore.TimeoutException:
            return timed_out
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, OSError) as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc) or isinstance(exc.__context__, ssl.SSLError):
                return Outcome(None, False, "Сертификат получателя не прошёл проверку")
            return Outcome(None, False, "Не удалось соединиться с получателем")
        text = answer.decode("utf-8", errors="replace").strip()
        return Outcome(status, False, f"HTTP {status}" + (f": {text}" if text else ""))


def _read_capped(chunks: Iterable[bytes]) -> bytes:
    """At most ANSWER_BYTES of an error answer: what came before the budget ran out, if it did."""
    answer = b""
    try:
        for chunk in chunks:
            answer += chunk
            if len(answer) >= ANSWER_BYTES:
                break
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError):
        pass
    return answer[:ANSWER_BYTES]


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake waits only for what is left of
    the delivery's budget (httpcore's own timeouts are per operation, not in all)."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def _left(self, timeout: float | None, expired: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise expired("the delivery's budget is spent")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_CHUNK):
            chunk = buffer[start : start + _WRITE_CHUNK]
            self._stream.write(chunk, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = self._left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ConnectTimeout("the delivery's budget is spent")
        stream = super().connect_tcp(
            host, port, left if timeout is None else min(timeout, left), local_address, socket_options
        )
        return _DeadlineStream(stream, self._deadline)
