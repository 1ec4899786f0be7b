"""Where a webhook may go, and the one request that goes there.

Server-side request forgery is the risk of any URL a user gives us: in AWS it could reach
the instance metadata service (169.254.169.254), a VPC address or a loopback port. So:

- https only, checked at registration and again at delivery;
- the host is resolved, and the delivery is refused if ANY resolved address is private,
  loopback, link-local, reserved, multicast, unspecified or otherwise not global (an IPv6
  address mapping an IPv4 one is judged as that IPv4 address);
- the request then connects to the checked address itself: the URL carries the IP, the
  `Host` header and TLS's SNI and certificate check carry the name, so a second DNS answer
  (rebinding) never decides where it goes;
- redirects are never followed (a 3xx is a failed delivery), every call has a timeout, no
  proxy from the environment is used, and at most 1 KiB of the answer is read;
- no connection is kept alive: the pool is keyed by address, and a connection verified for
  one name must not carry a request for another name on the same address.

Locally (the local stack, tests) `WEBHOOK_ALLOW_PRIVATE_TARGETS` lets a receiver on this
machine take deliveries, and `WEBHOOK_CA_FILE` trusts its self-signed certificate.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import certifi
import httpx

import autopost.observability  # noqa: F401 - clamps the loggers that would show URLs
from autopost.errors import WebhookUrlInvalid

MAX_URL_LENGTH = 2048
ANSWER_BYTES = 1024
USER_AGENT = "autopost-webhooks/1.0"
# getaddrinfo has no timeout of its own: it runs here and is waited for this long at most.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Unresolvable(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    ok: bool
    error: str | None


def is_internal(address: IPAddress) -> bool:
    """True for every address a webhook must not reach from inside AWS."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
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
    except (httpx.InvalidURL, ValueError) as exc:
        raise WebhookUrlInvalid("Некорректный адрес вебхука") from exc
    if parsed.scheme != "https":
        raise WebhookUrlInvalid("Адрес вебхука должен начинаться с https://")
    if not parsed.host:
        raise WebhookUrlInvalid("В адресе вебхука нет имени сервера")
    if parsed.userinfo:
        raise WebhookUrlInvalid("Адрес вебхука не должен содержать логин и пароль")
    return parsed


def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """Every address the name has now (an IP literal is its own), or Unresolvable."""
    try:
        infos = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM).result(timeout)
    except (OSError, UnicodeError, FutureTimeout) as exc:
        raise Unresolvable(host) from exc
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
    """Posts signed bodies to endpoints, one checked connection per delivery."""

    def __init__(self, timeout: float, allow_private: bool = False, ca_file: str | None = None) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        context = ssl.create_default_context(cafile=certifi.where())
        if ca_file:
            context.load_verify_locations(cafile=ca_file)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            verify=context,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        self._client.close()

    def post(self, url: str, headers: dict[str, str], body: str) -> Outcome:
        try:
            parsed = parse(url)
        except WebhookUrlInvalid as exc:
            return Outcome(None, False, exc.message)
        host, port = parsed.raw_host.decode("ascii"), parsed.port or 443  # IDNA: punycode
        try:
            addresses = resolve(host, port, self._timeout)
        except Unresolvable:
            return Outcome(None, False, "Не удалось найти адрес сервера (DNS)")
        if not self._allow_private and any(is_internal(a) for a in addresses):
            return Outcome(None, False, "Адрес ведёт во внутреннюю сеть: доставка запрещена")
        target = addresses[0]
        name = f"[{host}]" if ":" in host else host
        request_headers = {
            **headers,
            "Host": name if parsed.port is None else f"{name}:{parsed.port}",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            # The excerpt is read as sent: nothing to decompress, however large it would grow.
            "Accept-Encoding": "identity",
        }
        try:
            with self._client.stream(
                "POST",
                parsed.copy_with(host=str(target)),
                content=body.encode(),
                headers=request_headers,
                extensions={"sni_hostname": host},
            ) as response:
                answer = _read_capped(response)
        except httpx.TimeoutException:
            return Outcome(None, False, f"Получатель не ответил за {self._timeout:g} с")
        except httpx.HTTPError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc) or isinstance(exc.__context__, ssl.SSLError):
                return Outcome(None, False, "Сертификат получателя не прошёл проверку")
            return Outcome(None, False, "Не удалось соединиться с получателем")
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(status, True, None)
        if 300 <= status < 400:
            return Outcome(
                status, False, f"HTTP {status}: перенаправления не выполняются, укажите итоговый адрес"
            )
        text = answer.decode("utf-8", errors="replace").strip()
        return Outcome(status, False, f"HTTP {status}" + (f": {text}" if text else ""))


def _read_capped(response: httpx.Response) -> bytes:
    answer = b""
    for chunk in response.iter_raw():
        answer += chunk
        if len(answer) >= ANSWER_BYTES:
            break
    return answer[:ANSWER_BYTES]
