"""VK through the signed-in web session of VK's own video app: the only way public clients
publish real clips. **Not an official API**: VK may change it without notice (README, "VK
through the session", lists each call with its source and confidence).

Modelled on MaxNagibator/MediaOrcestrator (MediaOrcestrator.VkVideo/VkVideoService.cs):
- the session's cookies mint a short-lived token of VK's video app:
  `POST cabinet.vkvideo.ru/al_video.php?act=web_token` with `version=1&app_id=52461373`,
  answered `[{"access_token", "expires", "user_id", "is_active"}]`; `[]` when VK no longer
  accepts the session. Public clients report tokens bound to the address that got them,
  so each environment mints its own, where it calls (never passed between functions);
- API calls go to `api.vkvideo.ru/method/<m>?v=5.276&client_id=52461373` with that token
  (and the session's cookies, as that client sends them);
- the clip's file goes in one raw body with `Content-Range`, `Session-ID` and
  `X-Uploading-Mode: parallel`; answered `{video_hash, size, owner_id, video_id}`, or
  (crosspostly/diveclub-vkposter clip_upload.py) the old `<retval>1</retval>`.
Only the cookies below are kept: the session, never a password or the rest of the jar.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import httpx

from autopost.domain.errors import VK_SESSION_EXPIRED, PlatformUnavailable, Rejected, TokenExpired
from autopost.domain.models import Credentials
from autopost.infra.settings import Settings
from autopost.providers.base import ClipSource
from autopost.providers.http import guarded, json_of, stream_body
from autopost.providers.vk_api import NAME, VkApiError, vk_answer

AUTH = "session"  # credentials.extra["auth"] of a session connection
WEB_APP_ID = "52461373"  # VK's video app (MediaOrcestrator)
WEB_API_VERSION = "5.276"
# Cookies that make a VK session. Which of them `web_token` really needs is not public:
# remixsid/remixnsid are the session ids; the rest is what one public note lists as checked
# (README: low confidence). Anything else a browser holds is dropped.
SESSION_COOKIES = frozenset(
    {
        "remixsid",
        "remixnsid",
        "p",
        "httoken",
        "remixnttpid",
        "remixuacck",
        "remixuas",
        "remixdmgr",
        "remixmvk-fp",
    }
)
SESSION_IDS = ("remixnsid", "remixsid")
RENEW_BEFORE_SECONDS = 60.0  # MediaOrcestrator renews a minute before `expires`
CACHED_SESSIONS = 512


def is_session(credentials: Credentials) -> bool:
    return credentials.extra.get("auth") == AUTH


def session_cookies(header: str) -> str:
    """The session's own cookies out of a whole Cookie header, in a stable order."""
    found: dict[str, str] = {}
    for part in header.replace("\n", ";").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name in SESSION_COOKIES and value.strip():
            found[name] = value.strip()
    if not any(name in found for name in SESSION_IDS):
        raise Rejected(
            "В скопированных cookie нет входа в VK (remixnsid или remixsid): скопируйте заголовок "
            "Cookie запроса к vkvideo.ru, войдя в VK",
            code="VK_SESSION_INVALID",
        )
    return "; ".join(f"{name}={found[name]}" for name in sorted(found))


class _WebTokens:
    """Web tokens this environment minted, per session (by digest), until a minute before
    they lapse. Shared by every provider instance in the process."""

    def __init__(self) -> None:
        self._tokens: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._tokens.get(key)
            if found is None or found[1] - RENEW_BEFORE_SECONDS <= time.time():
                return None
            self._tokens.move_to_end(key)
            return found[0]

    def put(self, key: str, token: str, expires: float) -> None:
        with self._lock:
            self._tokens[key] = (token, expires)
            self._tokens.move_to_end(key)
            while len(self._tokens) > CACHED_SESSIONS:
                self._tokens.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)


_WEB_TOKENS = _WebTokens()


class VkSession:
    """Calls as VK's video app makes them, for one environment."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client,
        throttle: Callable[[Credentials], None] | None = None,
    ) -> None:
        self._web = settings.vk_web_url.rstrip("/")
        self._api = settings.vk_web_api_url.rstrip("/")
        self._http = http
        self._throttle = throttle

    def _headers(self, credentials: Credentials) -> dict[str, str]:
        return {
            "Cookie": credentials.access_token.get_secret_value(),
            "Origin": self._web,
            "Referer": f"{self._web}/",
        }

    def web_token(self, credentials: Credentials, fresh: bool = False) -> str:
        key = hashlib.sha256(credentials.access_token.get_secret_value().encode()).hexdigest()
        cached = None if fresh else _WEB_TOKENS.get(key)
        if cached is not None:
            return cached
        _WEB_TOKENS.drop(key)
        response = guarded(
            lambda: self._http.post(
                f"{self._web}/al_video.php",
                params={"act": "web_token"},
                data={"version": "1", "app_id": WEB_APP_ID},
                headers=self._headers(credentials),
            ),
            NAME,
        )
        if response.status_code >= 500:
            raise PlatformUnavailable("VK временно недоступен")
        if response.text.lstrip().startswith("<"):
            # A page instead of JSON: VK checks the browser (MediaOrcestrator solves this; we
            # do not). Not the session's end: the attempt is retried later.
            raise PlatformUnavailable("VK не выдал токен для сессии (проверка браузера), попробуем позже")
        answer = json_of(response, NAME)
        first = answer[0] if isinstance(answer, list) and answer and isinstance(answer[0], dict) else {}
        token = str(first.get("access_token") or "")
        if not token or first.get("is_active") is False:
            raise TokenExpired(VK_SESSION_EXPIRED, code="VK_SESSION_EXPIRED")
        expires = float(first.get("expires") or time.time() + 300)
        _WEB_TOKENS.put(key, token, expires)
        return token

    def call(self, method: str, credentials: Credentials, **params: Any) -> Any:
        """The method's `response` (VkApiError as VK answered it). A token VK refuses as
        expired or bound elsewhere is minted again once."""
        for fresh in (False, True):
            token = self.web_token(credentials, fresh)
            try:
                return self._call_once(method, credentials, token, params)
            except VkApiError as exc:
                if exc.vk_code != 5 or fresh:
                    raise
        raise AssertionError("unreachable")

    def _call_once(self, method: str, credentials: Credentials, token: str, params: dict[str, Any]) -> Any:
        if self._throttle is not None:
            self._throttle(credentials)
        data = {**{k: v for k, v in params.items() if v is not None}, "access_token": token}
        response = guarded(
            lambda: self._http.post(
                f"{self._api}/method/{method}",
                params={"v": WEB_API_VERSION, "client_id": WEB_APP_ID},
                data=data,
                headers=self._headers(credentials),
            ),
            NAME,
        )
        return vk_answer(response)

    def upload(
        self, upload_url: str, session_id: str, clip: ClipSource, deadline: float | None
    ) -> dict[str, Any] | None:
        """Send the whole file; the upload server's answer (`{}` for the old `<retval>1</retval>`,
        which carries no hash), or None when it refuses the address (spent, expired)."""
        headers = {
            "Content-Type": clip.content_type,
            "Content-Length": str(clip.size),
            "Content-Range": f"bytes 0-{clip.size - 1}/{clip.size}",
            "Content-Disposition": f"attachment; filename={clip.filename}",
            "Session-ID": session_id,
            "X-Uploading-Mode": "parallel",
            "Origin": self._web,
        }
        with clip.open(0) as source:
            body = stream_body(source, clip.size, deadline, "Загрузка в VK не уложилась в 10 минут")
            response = guarded(lambda: self._http.post(upload_url, content=body, headers=headers), NAME)
        if response.status_code >= 500:
            raise PlatformUnavailable("Сервер загрузки VK недоступен")
        if response.status_code >= 400:
            return None
        if "<retval>1</retval>" in response.text:
            return {}
        payload = json_of(response, NAME)
        if not isinstance(payload, dict) or "error" in payload or not payload.get("video_hash"):
            return None
        return payload


def new_upload_session() -> str:
    """An upload's Session-ID: 14 hex characters, as VK's uploader makes them."""
    return secrets.token_hex(7)
