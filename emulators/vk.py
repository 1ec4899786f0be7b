"""VK API 5.199 (video.save, video.get), its upload server, and VK ID OAuth 2.1.

Wire format as in ../shared/reference/vk-api-schema: answers are `{"response": ...}`, errors
`{"error": {"error_code", "error_msg", "request_params"}}`, both with HTTP 200. VK ID:
`/authorize` (PKCE S256 required) and `/oauth2/auth` for the code exchange and refresh,
with `device_id`. One server plays api.vk.com, the upload host and id.vk.com.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from emulators.http import Emulator, Fault, Request, Response, read_multipart
from emulators.oauth import Grant, consent_page, new_code, redeem

ERRORS = {
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    9: "Flood control",
    10: "Internal server error",
    15: "Access denied",
    29: "Rate limit reached",
    100: "One of the parameters specified was missing or invalid",
}
REQUESTS_PER_SECOND = 3
DEFAULT_USER = 1001


@dataclass
class Video:
    owner_id: int
    video_id: int
    title: str
    description: str
    is_short: bool
    upload_token: str
    uploaded: bool = False
    size: int = 0
    sha256: str = ""
    views: int = 0
    likes: int = 0
    comments: int = 0
    reposts: int = 0
    date: int = field(default_factory=lambda: int(time.time()))


class VkEmulator(Emulator):
    name = "vk"

    def __init__(self, enforce_rate_limit: bool = True) -> None:
        super().__init__()
        self.enforce_rate_limit = enforce_rate_limit
        self.reset_state()

    def reset_state(self) -> None:
        self.videos: dict[tuple[int, int], Video] = {}
        self.tokens: dict[str, tuple[int, float]] = {}
        self.refresh_tokens: dict[str, tuple[int, str]] = {}
        self.grants: dict[str, Grant] = {}
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._next_video = 456239000
        self._state_lock = threading.Lock()

    # -- test setup -----------------------------------------------------------------------

    def issue_token(
        self, user_id: int = DEFAULT_USER, lifetime: float = 3600, device_id: str = "dev"
    ) -> tuple[str, str]:
        access, refresh = "vk1.a." + secrets.token_urlsafe(32), "vk1.r." + secrets.token_urlsafe(32)
        self.tokens[access] = (user_id, time.time() + lifetime)
        self.refresh_tokens[refresh] = (user_id, device_id)
        return access, refresh

    def expire_token(self, access: str) -> None:
        user_id, _ = self.tokens[access]
        self.tokens[access] = (user_id, time.time() - 1)

    def add_videos(self, owner_id: int, count: int, **stats: int) -> list[str]:
        """Already published videos (for stats tests); their `owner_video` ids."""
        ids = []
        with self._state_lock:
            for _ in range(count):
                self._next_video += 1
                video = Video(owner_id, self._next_video, "clip", "", True, "", uploaded=True, **stats)
                self.videos[(owner_id, video.video_id)] = video
                ids.append(f"{owner_id}_{video.video_id}")
        return ids

    def uploaded_videos(self) -> list[Video]:
        return [v for v in self.videos.values() if v.uploaded]

    def state(self) -> dict[str, Any]:
        return {
            "videos": [
                {
                    "owner_id": v.owner_id,
                    "video_id": v.video_id,
                    "title": v.title,
                    "is_short": v.is_short,
                    "uploaded": v.uploaded,
                    "size": v.size,
                }
                for v in self.videos.values()
            ]
        }

    def control(self, request: Request) -> Response:
        if request.path == "/_emulator/token" and request.method == "POST":
            spec = request.json()
            access, refresh = self.issue_token(
                int(spec.get("user_id", DEFAULT_USER)), device_id=spec.get("device_id", "dev")
            )
            return Response.json(
                {
                    "access_token": access,
                    "refresh_token": refresh,
                    "user_id": int(spec.get("user_id", DEFAULT_USER)),
                }
            )
        return super().control(request)

    # -- routing --------------------------------------------------------------------------

    def route(self, request: Request) -> tuple[str, Callable[[Request], Response]] | None:
        routes: dict[str, Callable[[Request], Response]] = {
            "/method/video.save": self._video_save,
            "/method/video.get": self._video_get,
            "/upload/video": self._upload,
            "/authorize": lambda r: consent_page("VK ID", r, "/authorize/approve"),
            "/authorize/approve": self._approve,
            "/oauth2/auth": self._oauth,
        }
        handler = routes.get(request.path)
        if handler is None:
            return None
        return request.path.removeprefix("/method/").strip("/"), handler

    def fault_response(self, endpoint: str, fault: Fault) -> Response:
        if fault.kind == "http_500":
            return Response(
                500, b"<html><body>500 Internal Server Error</body></html>", {"Content-Type": "text/html"}
            )
        if endpoint == "oauth2/auth":
            return Response.json(
                {"error": "invalid_grant", "error_description": "Refresh token is expired"}, 400
            )
        if endpoint == "upload/video":
            return Response(503, b"Service Unavailable")
        code = {"rate_limit": 6, "token_expired": 5, "flood": 9, "internal": 10}.get(fault.kind, 10)
        return self._error(code, endpoint)

    def _error(self, code: int, method: str) -> Response:
        params = [{"key": "method", "value": method}, {"key": "v", "value": "5.199"}]
        return Response.json(
            {
                "error": {
                    "inner_type": "base_error",
                    "error_code": code,
                    "error_msg": ERRORS[code],
                    "request_params": params,
                }
            }
        )

    def _authorized(self, form: dict[str, str], method: str) -> int | Response:
        token = form.get("access_token", "")
        found = self.tokens.get(token)
        if found is None or found[1] < time.time():
            return self._error(5, method)
        if self.enforce_rate_limit:
            now = time.monotonic()
            with self._state_lock:
                recent = self._recent[token]
                while recent and now - recent[0] > 1.0:
                    recent.popleft()
                if len(recent) >= REQUESTS_PER_SECOND:
                    return self._error(6, method)
                recent.append(now)
        return found[0]

    # -- API methods ----------------------------------------------------------------------

    def _video_save(self, request: Request) -> Response:
        form = request.form()
        user = self._authorized(form, "video.save")
        if isinstance(user, Response):
            self.record("video.save", rejected=True)
            return user
        owner_id = -int(form["group_id"]) if form.get("group_id") else user
        with self._state_lock:
            self._next_video += 1
            video = Video(
                owner_id=owner_id,
                video_id=self._next_video,
                title=form.get("name", ""),
                description=form.get("description", ""),
                is_short=form.get("is_short") == "1",
                upload_token=secrets.token_hex(8),
            )
            self.videos[(owner_id, video.video_id)] = video
        self.record("video.save", video_id=video.video_id, is_short=video.is_short, version=form.get("v"))
        query = urlencode({"vid": video.video_id, "oid": owner_id, "hash": video.upload_token})
        return Response.json(
            {
                "response": {
                    "upload_url": f"{self.base_url}/upload/video?{query}",
                    "video_id": video.video_id,
                    "owner_id": owner_id,
                    "title": video.title,
                    "description": video.description,
                    "access_key": secrets.token_hex(8),
                }
            }
        )

    def _upload(self, request: Request) -> Response:
        key = (int(request.query.get("oid", "0")), int(request.query.get("vid", "0")))
        video = self.videos.get(key)
        if video is None or video.upload_token != request.query.get("hash") or video.uploaded:
            return Response.json({"error": "invalid upload url"})
        _, files = read_multipart(request)
        file = next((f for f in files if f.field == "video_file"), None)
        if file is None:
            return Response.json({"error": "video_file is missing"})
        video.uploaded, video.size, video.sha256 = True, file.size, file.sha256
        self.record("upload/video", video_id=video.video_id, bytes=file.size, sha256=file.sha256)
        return Response.json(
            {
                "size": file.size,
                "owner_id": video.owner_id,
                "video_id": video.video_id,
                "video_hash": secrets.token_hex(8),
            }
        )

    def _video_get(self, request: Request) -> Response:
        form = request.form()
        user = self._authorized(form, "video.get")
        if isinstance(user, Response):
            return user
        wanted = [part for part in form.get("videos", "").split(",") if part]
        count = int(form.get("count", "100"))
        if len(wanted) > 200 or count > 200:
            return self._error(100, "video.get")
        keys = []
        for item in wanted:
            owner, _, video_id = item.partition("_")
            keys.append((int(owner), int(video_id.split("_")[0])))
        self.record("video.get", videos=len(keys))
        items = [
            self._video_object(self.videos[k]) for k in keys if k in self.videos and self.videos[k].uploaded
        ]
        return Response.json({"response": {"count": len(items), "items": items}})

    def _video_object(self, video: Video) -> dict[str, Any]:
        return {
            "id": video.video_id,
            "owner_id": video.owner_id,
            "title": video.title,
            "description": video.description,
            "duration": 2,
            "date": video.date,
            "adding_date": video.date,
            "views": video.views,
            "comments": video.comments,
            "likes": {"count": video.likes, "user_likes": 0},
            "reposts": {"count": video.reposts, "user_reposted": 0},
            "player": f"https://vk.com/video_ext.php?oid={video.owner_id}&id={video.video_id}",
            "type": "short_video" if video.is_short else "video",
            "can_edit": 1,
            "can_add": 1,
        }

    # -- VK ID ----------------------------------------------------------------------------

    def _approve(self, request: Request) -> Response:
        query = request.query
        target = query.get("redirect_uri", "")
        if query.get("deny"):
            return Response.redirect(
                f"{target}?{urlencode({'error': 'access_denied', 'state': query.get('state', '')})}"
            )
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return Response.json(
                {"error": "invalid_request", "error_description": "PKCE S256 is required"}, 400
            )
        code = new_code(self.grants, request, int(query.get("user_id", DEFAULT_USER)))
        device_id = "dev-" + secrets.token_hex(6)
        self.record("authorize", client_id=query.get("client_id"))
        params = {
            "code": code,
            "state": query.get("state", ""),
            "device_id": device_id,
            "type": "code_v2",
            "expires_in": 600,
        }
        return Response.redirect(f"{target}?{urlencode(params)}")

    def _oauth(self, request: Request) -> Response:
        form = request.form()
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = redeem(
                self.grants,
                form.get("code", ""),
                form.get("client_id", ""),
                form.get("redirect_uri"),
                form.get("code_verifier"),
            )
            if isinstance(grant, str):
                return Response.json({"error": "invalid_grant", "error_description": grant}, 400)
            if not form.get("device_id"):
                return Response.json(
                    {"error": "invalid_request", "error_description": "device_id is required"}, 400
                )
            user_id = grant.user_id
        elif grant_type == "refresh_token":
            found = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if found is None or found[1] != form.get("device_id"):
                return Response.json(
                    {"error": "invalid_grant", "error_description": "Refresh token is invalid"}, 400
                )
            user_id = found[0]
        else:
            return Response.json({"error": "unsupported_grant_type"}, 400)
        access, refresh = self.issue_token(user_id, device_id=form.get("device_id", ""))
        self.record("oauth2/auth", grant_type=grant_type)
        return Response.json(
            {
                "access_token": access,
                "refresh_token": refresh,
                "id_token": "eyJ." + secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 3600,
                "user_id": user_id,
                "state": form.get("state", ""),
                "scope": "vkid.personal_info video",
            }
        )
