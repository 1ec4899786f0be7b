"""API Gateway (HTTP API) on loopback: the template's routes, its JWT authorizer (with the
local token key), payload format 2.0 events, and the API function run in-process."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from devstack import tokens
from devstack.functions import FunctionPool
from devstack.provision import Stack
from devstack.template import TemplateError

MAX_BODY = 10 * 1024 * 1024
# The names a browser on this machine uses for the gateway; any other Host is refused.
LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")
LOG = logging.getLogger("devstack")  # API Gateway's payload limit


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    pattern: re.Pattern[str]
    authorized: bool
    pool: FunctionPool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def routes(stack: Stack, pools: dict[str, FunctionPool]) -> list[Route]:
    found = []
    for logical_id, spec in stack.functions.items():
        for name, event in spec.events.items():
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            unsupported = set(props) - {"ApiId", "Method", "Path", "Auth"}
            if unsupported:
                raise TemplateError(
                    f"{logical_id}.{name}: HttpApi properties {sorted(unsupported)} are not supported locally"
                )
            authorized = (props.get("Auth") or {}).get("Authorizer") != "NONE"
            found.append(
                Route(
                    props["Method"].upper(),
                    props["Path"],
                    _pattern(props["Path"]),
                    authorized,
                    pools[logical_id],
                )
            )
    return found


class _Server(ThreadingHTTPServer):
    # Many clients at once (a load test, a burst of retries) queue for a thread instead of
    # having their connection refused or reset (the default backlog is 5).
    request_queue_size = 256
    daemon_threads = True


def _cors(stack: Stack) -> dict[str, Any]:
    for api in stack.http_apis.values():
        if api.get("CorsConfiguration"):
            return stack.resolver.resolve(api["CorsConfiguration"])
    return {}


def _pattern(path: str) -> re.Pattern[str]:
    """`/clips/{clipId}/publications` -> a regex with a named group per path parameter."""
    parts = []
    for segment in path.strip("/").split("/"):
        parameter = re.fullmatch(r"\{([A-Za-z0-9_]+)\+?\}", segment)
        parts.append(f"(?P<{parameter.group(1)}>[^/]+)" if parameter else re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$")


class Gateway:
    def __init__(
        self,
        stack: Stack,
        pools: dict[str, FunctionPool],
        static: dict[str, Path] | None = None,
        emulators: Any = None,
    ) -> None:
        self._hosts: set[str] = set()
        self._emulators = emulators
        self._pools = pools
        self._routes = routes(stack, pools)
        self._static = static or {}
        self._static_headers = stack.console_headers()
        self._cors = _cors(stack)
        # What the console reads at /console/config.json (in AWS, a file deployed with it).
        self.console_config: dict[str, Any] = {"signIn": "local"}
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def event(
        self,
        route: Route,
        handler: BaseHTTPRequestHandler,
        match: re.Match[str],
        body: bytes,
        claims: dict | None,
    ) -> dict[str, Any]:
        parts = urlsplit(handler.path)
        headers: dict[str, str] = {}
        for key, value in handler.headers.items():
            key = key.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        query = {k: ",".join(v) for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        now = time.time()
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": parts.path,
            "rawQueryString": parts.query,
            "headers": headers,
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "local",
                "domainName": headers.get("host", "localhost"),
                "domainPrefix": "local",
                "http": {
                    "method": route.method,
                    "path": parts.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": handler.client_address[0],
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route.key,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "isBase64Encoded": False,
        }
        if query:
            event["queryStringParameters"] = query
        if match.groupdict():
            event["pathParameters"] = match.groupdict()
        if "cookie" in headers:
            event["cookies"] = [c.strip() for c in headers["cookie"].split(";")]
        if claims is not None:
            event["requestContext"]["authorizer"] = {
                "jwt": {"claims": {k: str(v) for k, v in claims.items()}, "scopes": None}
            }
        if body:
            try:
                event["body"] = body.decode()
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        return event

    def local_answer(self, method: str, path: str, body: bytes) -> tuple[int, Any] | None:
        """The local stack's own routes under /local/ (no Lambda behind them), or None."""
        if method != "POST" or not path.startswith("/local/"):
            return None
        try:
            wanted = json.loads(body or b"{}")
        except ValueError:
            return 400, {"message": "a JSON body is required"}
        if not isinstance(wanted, dict):
            return 400, {"message": "a JSON object is required"}
        if path == "/local/token":
            # Local sign-in only: what `make token` does, for the console's sign-in page.
            user, plan = str(wanted.get("user") or "").strip(), str(wanted.get("plan", "free"))
            if not user:
                return 400, {"message": "user is required"}
            if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", user):
                return 400, {"message": "user: letters, digits, _ . @ - only"}
            return 200, {"token": tokens.mint(user, plan)}
        if path == "/local/telegram/post":
            # What a channel's owner does in Telegram (posting the code the service bot
            # waits for), for the console's "post it for me" button.
            try:
                self._emulators.telegram.post_in_channel(str(wanted["channel"]), str(wanted["text"]))
            except (KeyError, TypeError, AttributeError):
                return 400, {"message": "channel and text are required"}
            return 200, {"ok": True}
        if path == "/local/kill-busy":
            # Crash a function's environments mid-call (the tests' chaos).
            pool = self._pools.get(str(wanted.get("function", "")))
            if pool is None:
                return 404, {"message": "no such function"}
            return 200, {"killed": pool.kill_busy()}
        return None

    def through_a_function(
        self, handler: BaseHTTPRequestHandler, path: str, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        """The route's function answers, as API Gateway invokes it (the JWT checked first)."""
        for route in self._routes:
            match = route.pattern.match(path)
            if match and route.method == handler.command:
                break
        else:
            return 404, b'{"message": "Not Found"}', {"Content-Type": "application/json"}
        claims = None
        if route.authorized:
            header = handler.headers.get("authorization", "")
            try:
                claims = tokens.verify(header.removeprefix("Bearer ").strip())
            except jwt.InvalidTokenError:
                return 401, b'{"message": "Unauthorized"}', {"Content-Type": "application/json"}
        result = route.pool.invoke(self.event(route, handler, match, body, claims))
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        headers = dict(result.get("headers") or {})
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key] = ",".join(values)
        return int(result.get("statusCode", 200)), raw, headers

    def start(self, host: str, port: int) -> str:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, status: int, payload: Any) -> None:
                self._reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

            def _serve(self) -> None:
                if not gateway.serves_host(self.headers.get("host", "")):
                    # DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 sends its
                    # own name as Host. Only this machine's names reach the local API.
                    self.close_connection = True
                    self._json(421, {"message": "Misdirected Request: unknown Host"})
                    return
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY:
                    self.close_connection = True
                    self._json(413, {"message": "Request Entity Too Large"})
                    return
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                if self.command == "OPTIONS":
                    self._preflight()
                    return
                if path in ("/", "/console") and self.command in ("GET", "HEAD"):
                    self._reply(302, b"", {"Location": "/console/"})
                    return
                local = gateway.local_answer(self.command, path, body)
                if local is not None:
                    self._json(*local)
                    return
                if path == "/console/config.json":
                    # The API on the console's own origin, whatever name the browser used.
                    self._json(200, {"apiUrl": "", **gateway.console_config})
                    return
                if gateway._serve_static(self, path):
                    return
                self._reply(*gateway.through_a_function(self, path, body))

            def _preflight(self) -> None:
                """A CORS preflight, as API Gateway's CorsConfiguration answers it."""
                origin = self.headers.get("origin", "")
                headers = {}
                if origin and origin in gateway._cors.get("AllowOrigins", []):
                    headers = {
                        "Access-Control-Allow-Origin": origin,
                        "Access-Control-Allow-Methods": ",".join(gateway._cors.get("AllowMethods", [])),
                        "Access-Control-Allow-Headers": ",".join(gateway._cors.get("AllowHeaders", [])),
                        "Access-Control-Max-Age": str(gateway._cors.get("MaxAge", 0)),
                    }
                self._reply(204, b"", headers)

            def _serve_or_fail(self) -> None:
                try:
                    self._serve()
                except Exception:
                    LOG.exception("local gateway: request failed")
                    self._json(502, {"message": "Internal Server Error"})

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve_or_fail

            def __getattr__(self, name: str) -> Any:
                # Any other method (TRACE, QUERY, …) finds no route: 404, as API Gateway
                # answers (the standard library would say 501).
                if name.startswith("do_"):
                    return self._serve_or_fail
                raise AttributeError(name)

        server = self._server = _Server((host, port), Handler)
        server.daemon_threads = True
        bound = server.server_address[1]
        self._hosts = {f"{name}:{bound}" for name in {*LOCAL_NAMES, host.lower()}}
        threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.1), name="gateway", daemon=True
        ).start()
        self.url = f"http://{host}:{bound}"
        return self.url

    def serves_host(self, host: str) -> bool:
        """The Host header names this gateway on this machine (a name and its port)."""
        return host.strip().lower() in self._hosts

    def _serve_static(self, handler: BaseHTTPRequestHandler, path: str) -> bool:
        for prefix, folder in self._static.items():
            if not path.startswith(prefix):
                continue
            relative = path[len(prefix) :].lstrip("/") or "index.html"
            root, target = folder.resolve(), (folder / relative).resolve()
            if root not in target.parents or not target.is_file():
                handler._json(404, {"message": "Not Found"})  # type: ignore[attr-defined]
                return True
            types = {
                ".html": "text/html; charset=utf-8",
                ".js": "text/javascript",
                ".css": "text/css",
                ".png": "image/png",
                ".svg": "image/svg+xml",
            }
            handler._reply(  # type: ignore[attr-defined]
                200,
                target.read_bytes(),
                {
                    "Content-Type": types.get(target.suffix, "application/octet-stream"),
                    **self._static_headers,
                },
            )
            return True
        return False

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
