"""VK: the API methods we call, the upload servers, VK ID (OAuth 2.1) and the legacy
implicit flow (oauth.vk.com). One server plays api.vk.com, the upload hosts, id.vk.com and
oauth.vk.com.

What it is modelled on, and what it refuses as the real service does:
- `video.save`, `video.get`, `users.get`, `groups.get`, the answer and error envelopes
  (`{"response": ...}`, `{"error": {"error_code", "error_msg", "request_params"}}`, HTTP
  200): the official schema, tests/reference/vk-api-schema (tests validate the answers).
  `video.save` ignores `is_short` (not in the schema): it makes a regular video
  (`type: "video"`), as crosspostly/diveclub-vkposter observed for uploads to a community.
- `shortVideo.*` (undocumented): as the public clients MaxNagibator/MediaOrcestrator
  (VkVideoService.cs), sedlab/node-vk-clip-api and crosspostly/diveclub-vkposter call them.
  Their reports: a third-party app's token gets error 3 (so by default this emulator
  refuses them; `POST /_emulator/clips {"allowed": true}` plays a token that may use them);
  the upload's multipart field is `file`; `encodeProgress` answers `{percents, is_ready}`;
  `publish` needs `license_agree=1` and answers error 3001 before encoding is done.
- A video VK refuses after upload carries `content_restricted` and
  `content_restricted_message` (schema fields); fault `restricted` on endpoint `processing`.
- VK ID: `/authorize` with PKCE S256, `/oauth2/auth` with `device_id` (VKCOM/vkid-web-sdk).
  Legacy: `/authorize?response_type=token` answers in the redirect's fragment
  `#access_token=…&expires_in=86400&user_id=…&state=…` (dev.vk.com, implicit flow).
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
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    9: "Flood control",
    10: "Internal server error",
    15: "Access denied",
    29: "Rate limit reached",
    100: "One of the parameters specified was missing or invalid",
    3001: "Video is not processed yet",
}
REQUESTS_PER_SECOND = 3
DEFAULT_USER = 1001
DEFAULT_COMMUNITY = 2001
CLIENT_ID = "51234567"
IMPLICIT_LIFETIME = 86400


@dataclass
class Video:
    owner_id: int
    video_id: int
    title: str
    description: str
    kind: str  # "short_video" (a clip) or "video"
    upload_token: str
    uploaded: bool = False
    published: bool = False
    size: int = 0
    sha256: str = ""
    video_hash: str = ""
    # Status reads (encodeProgress, video.get) still answered "processing".
    pending_checks: int = 0
    total_checks: int = 0
    restricted: str = ""
    views: int = 0
    likes: int = 0
    comments: int = 0
    reposts: int = 0
    date: int = field(default_factory=lambda: int(time.time()))

    @property
    def is_short(self) -> bool:
        return self.kind == "short_video"


@dataclass
class Token:
    user_id: int
    expires_at: float
    clips: bool


class VkEmulator(Emulator):
    name = "vk"

    def __init__(self, enforce_rate_limit: bool = True) -> None:
        super().__init__()
        self.enforce_rate_limit = enforce_rate_limit
        self.reset_state()

    def reset_state(self) -> None:
        self.videos: dict[tuple[int, int], Video] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, tuple[int, str]] = {}
        self.grants: dict[str, Grant] = {}
        self.users: dict[int, tuple[str, str]] = {DEFAULT_USER: ("Иван", "Петров")}
        # user id -> {community id: name} they administer or edit
        self.communities: dict[int, dict[int, str]] = {DEFAULT_USER: {DEFAULT_COMMUNITY: "Клипы о закатах"}}
        # May tokens of our (third-party) app use the clip methods? The public clients say no.
        self.clip_methods_allowed = False
        # How many status reads a new upload stays "processing" for.
        self.processing_checks = 1
        # How long an access token from VK ID lives (its `expires_in`; VK ID says 3600 s).
        self.token_lifetime = 3600
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._next_video = 456239000
        self._state_lock = threading.Lock()

    # -- test setup -----------------------------------------------------------------------

    def issue_token(
        self,
        user_id: int = DEFAULT_USER,
        lifetime: float = 3600,
        device_id: str = "dev",
        clips: bool | None = None,
    ) -> tuple[str, str]:
        access, refresh = "vk1.a." + secrets.token_urlsafe(32), "vk1.r." + secrets.token_urlsafe(32)
        allowed = self.clip_methods_allowed if clips is None else clips
        self.tokens[access] = Token(user_id, time.time() + lifetime, allowed)
        self.refresh_tokens[refresh] = (user_id, device_id)
        self.issued += [access, refresh]
        self.users.setdefault(user_id, ("Пользователь", str(user_id)))
        return access, refresh

    def expire_token(self, access: str) -> None:
        self.tokens[access].expires_at = time.time() - 1

    def add_videos(self, owner_id: int, count: int, **stats: int) -> list[str]:
        """Already published videos (for stats tests); their `owner_video` ids."""
        ids = []
        with self._state_lock:
            for _ in range(count):
                self._next_video += 1
                video = Video(
                    owner_id,
                    self._next_video,
                    "clip",
                    "",
                    "short_video",
                    "",
                    uploaded=True,
                    published=True,
                    **stats,
                )
                self.videos[(owner_id, video.video_id)] = video
                ids.append(f"{owner_id}_{video.video_id}")
        return ids

    def uploaded_videos(self) -> list[Video]:
        return [v for v in self.videos.values() if v.uploaded]

    def state(self) -> dict[str, Any]:
        return {
            "clip_methods_allowed": self.clip_methods_allowed,
            "videos": [
                {
                    "owner_id": v.owner_id,
                    "video_id": v.video_id,
                    "title": v.title,
                    "description": v.description,
                    "type": v.kind,
                    "uploaded": v.uploaded,
                    "published": v.published,
                    "size": v.size,
                }
                for v in self.videos.values()
            ],
        }

    def control(self, request: Request) -> Response:
        if request.path == "/_emulator/token" and request.method == "POST":
            spec = request.json()
            user_id = int(spec.get("user_id", DEFAULT_USER))
            access, refresh = self.issue_token(
                user_id, device_id=spec.get("device_id", "dev"), clips=spec.get("clips")
            )
            return Response.json({"access_token": access, "refresh_token": refresh, "user_id": user_id})
        if request.path == "/_emulator/clips" and request.method == "POST":
            self.clip_methods_allowed = bool(request.json().get("allowed"))
            for token in self.tokens.values():
                token.clips = self.clip_methods_allowed
            return Response.json({"allowed": self.clip_methods_allowed})
        if request.path == "/_emulator/token-lifetime" and request.method == "POST":
            # Short-lived tokens: every connection refreshes often (a soak's setting).
            self.token_lifetime = max(1.0, float(request.json().get("seconds", 3600)))
            return Response.json({"seconds": self.token_lifetime})
        if request.path == "/_emulator/processing" and request.method == "POST":
            self.processing_checks = max(0, int(request.json().get("checks", 1)))
            return Response.json({"checks": self.processing_checks})
        return super().control(request)

    # -- routing --------------------------------------------------------------------------

    def route(self, request: Request) -> tuple[str, Callable[[Request], Response]] | None:
        routes: dict[str, Callable[[Request], Response]] = {
            "/method/video.save": self._video_save,
            "/method/video.get": self._video_get,
            "/method/users.get": self._users_get,
            "/method/groups.get": self._groups_get,
            "/method/shortVideo.create": self._clip_create,
            "/method/shortVideo.encodeProgress": self._clip_progress,
            "/method/shortVideo.edit": self._clip_edit,
            "/method/shortVideo.publish": self._clip_publish,
            "/upload/video": self._upload,
            "/upload/clip": self._upload,
            "/authorize": self._authorize,
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
        if endpoint.startswith("upload/"):
            return Response(503, b"Service Unavailable")
        code = {
            "rate_limit": 6,
            "token_expired": 5,
            "flood": 9,
            "internal": 10,
            "refused": 15,
            "not_processed": 3001,
        }.get(fault.kind, 10)
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

    def _authorized(self, form: dict[str, str], method: str) -> Token | Response:
        token = form.get("access_token", "")
        found = self.tokens.get(token)
        if found is None or found.expires_at < time.time():
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
        return found

    def _owner_for(self, token: Token, form: dict[str, str], method: str) -> int | Response:
        """The user's page, or `-group_id` for a community they administer or edit."""
        group = form.get("group_id")
        if not group:
            return token.user_id
        if not group.isdigit() or int(group) < 1:
            return self._error(100, method)  # the schema: group_id is positive
        if int(group) not in self.communities.get(token.user_id, {}):
            return self._error(15, method)
        return -int(group)

    def _new_video(self, owner_id: int, kind: str, title: str, description: str) -> Video:
        with self._state_lock:
            self._next_video += 1
            video = Video(owner_id, self._next_video, title, description, kind, secrets.token_hex(8))
            self.videos[(owner_id, video.video_id)] = video
        return video

    def _upload_url(self, kind: str, video: Video) -> str:
        query = urlencode({"vid": video.video_id, "oid": video.owner_id, "hash": video.upload_token})
        return f"{self.base_url}/upload/{kind}?{query}"

    # -- documented methods ---------------------------------------------------------------

    def _video_save(self, request: Request) -> Response:
        form = request.form()
        token = self._authorized(form, "video.save")
        if isinstance(token, Response):
            self.record("video.save", rejected=True)
            return token
        owner_id = self._owner_for(token, form, "video.save")
        if isinstance(owner_id, Response):
            return owner_id
        # `is_short` is not a video.save parameter: a regular video whatever it says.
        video = self._new_video(owner_id, "video", form.get("name", ""), form.get("description", ""))
        self.record(
            "video.save", video_id=video.video_id, is_short=form.get("is_short"), version=form.get("v")
        )
        return Response.json(
            {
                "response": {
                    "upload_url": self._upload_url("video", video),
                    "video_id": video.video_id,
                    "owner_id": owner_id,
                    "title": video.title,
                    "description": video.description,
                    "access_key": secrets.token_hex(8),
                }
            }
        )

    def _upload(self, request: Request) -> Response:
        kind = request.path.rsplit("/", 1)[-1]
        key = (int(request.query.get("oid", "0") or 0), int(request.query.get("vid", "0") or 0))
        video = self.videos.get(key)
        if video is None or video.upload_token != request.query.get("hash") or video.uploaded:
            return Response.json({"error": "invalid upload url"})
        _, files = read_multipart(request)
        wanted = "file" if kind == "clip" else "video_file"
        file = next((f for f in files if f.field == wanted), None)
        if file is None:
            return Response.json({"error": f"{wanted} is missing"})
        video.uploaded, video.size, video.sha256 = True, file.size, file.sha256
        video.video_hash = secrets.token_hex(8)
        video.pending_checks = video.total_checks = self.processing_checks
        refusal = self.take_fault("processing")
        if refusal is not None:
            video.restricted = refusal.message or "Видео нарушает правила платформы"
        self.record(f"upload/{kind}", video_id=video.video_id, bytes=file.size, sha256=file.sha256)
        return Response.json(
            {
                "size": file.size,
                "owner_id": video.owner_id,
                "video_id": video.video_id,
                "video_hash": video.video_hash,
            }
        )

    def _video_get(self, request: Request) -> Response:
        form = request.form()
        token = self._authorized(form, "video.get")
        if isinstance(token, Response):
            return token
        wanted = [part for part in form.get("videos", "").split(",") if part]
        count = int(form.get("count", "100"))
        if len(wanted) > 200 or count > 200:
            return self._error(100, "video.get")
        keys = []
        for item in wanted:
            owner, _, video_id = item.partition("_")
            keys.append((int(owner), int(video_id.split("_")[0])))
        self.record("video.get", videos=len(keys))
        items = []
        for key in keys:
            video = self.videos.get(key)
            if video is None or not video.uploaded:
                continue
            items.append(self._video_object(video, count_check=len(keys) == 1))
        return Response.json({"response": {"count": len(items), "items": items}})

    def _video_object(self, video: Video, count_check: bool = False) -> dict[str, Any]:
        # Reading one regular video is how its uploader checks on it; a clip's check is
        # encodeProgress, so reading a clip here does not move its processing on.
        counts = count_check and video.kind == "video"
        processing = self._still_processing(video) if counts else video.pending_checks > 0
        item: dict[str, Any] = {
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
            "type": video.kind,
            "can_edit": 1,
            "can_add": 1,
        }
        if processing:
            item["processing"] = 1
            item["converting"] = 1
        if video.restricted:
            item["content_restricted"] = 1
            item["content_restricted_message"] = video.restricted
        return item

    def _still_processing(self, video: Video) -> bool:
        """A status read: processing for the first `processing_checks` reads after upload."""
        with self._state_lock:
            if video.pending_checks > 0:
                video.pending_checks -= 1
                return True
        return False

    def _users_get(self, request: Request) -> Response:
        form = request.form()
        token = self._authorized(form, "users.get")
        if isinstance(token, Response):
            return token
        first, last = self.users.get(token.user_id, ("Пользователь", str(token.user_id)))
        self.record("users.get")
        user = {
            "id": token.user_id,
            "first_name": first,
            "last_name": last,
            "can_access_closed": True,
            "is_closed": False,
        }
        return Response.json({"response": [user]})

    def _groups_get(self, request: Request) -> Response:
        form = request.form()
        token = self._authorized(form, "groups.get")
        if isinstance(token, Response):
            return token
        if form.get("extended") not in ("1", "true"):
            ids = list(self.communities.get(token.user_id, {}))
            return Response.json({"response": {"count": len(ids), "items": ids}})
        self.record("groups.get", filter=form.get("filter"))
        items = [
            {
                "id": group_id,
                "name": name,
                "screen_name": f"club{group_id}",
                "is_closed": 0,
                "type": "page",
                "is_admin": 1,
                "admin_level": 3,
                "is_member": 1,
                "photo_50": f"https://sun.userapi.com/{group_id}/50.jpg",
                "photo_100": f"https://sun.userapi.com/{group_id}/100.jpg",
                "photo_200": f"https://sun.userapi.com/{group_id}/200.jpg",
            }
            for group_id, name in self.communities.get(token.user_id, {}).items()
        ]
        return Response.json({"response": {"count": len(items), "items": items}})

    # -- the clip methods (undocumented) --------------------------------------------------

    def _clip_token(self, form: dict[str, str], method: str) -> Token | Response:
        token = self._authorized(form, method)
        if isinstance(token, Response):
            self.record(method, rejected=True)
            return token
        if not token.clips:
            self.record(method, refused=True)
            return self._error(3, method)
        return token

    def _clip(self, form: dict[str, str], token: Token, method: str) -> Video | Response:
        try:
            key = (int(form.get("owner_id", "")), int(form.get("video_id", "")))
        except ValueError:
            return self._error(100, method)
        video = self.videos.get(key)
        if video is None or not video.is_short:
            return self._error(100, method)
        mine = video.owner_id == token.user_id or -video.owner_id in self.communities.get(token.user_id, {})
        return video if mine else self._error(15, method)

    def _clip_create(self, request: Request) -> Response:
        form = request.form()
        token = self._clip_token(form, "shortVideo.create")
        if isinstance(token, Response):
            return token
        if not form.get("file_size", "").isdigit():
            return self._error(100, "shortVideo.create")
        owner_id = self._owner_for(token, form, "shortVideo.create")
        if isinstance(owner_id, Response):
            return owner_id
        video = self._new_video(owner_id, "short_video", "", form.get("description", ""))
        self.record("shortVideo.create", video_id=video.video_id, owner_id=owner_id, version=form.get("v"))
        return Response.json(
            {
                "response": {
                    "owner_id": owner_id,
                    "video_id": video.video_id,
                    "upload_url": self._upload_url("clip", video),
                }
            }
        )

    def _clip_progress(self, request: Request) -> Response:
        form = request.form()
        token = self._clip_token(form, "shortVideo.encodeProgress")
        if isinstance(token, Response):
            return token
        video = self._clip(form, token, "shortVideo.encodeProgress")
        if isinstance(video, Response):
            return video
        if not video.uploaded or form.get("hash") != video.video_hash:
            return self._error(100, "shortVideo.encodeProgress")
        processing = self._still_processing(video)
        done = video.total_checks - video.pending_checks
        percents = 100 if not processing else int(100 * done / max(1, video.total_checks + 1))
        self.record("shortVideo.encodeProgress", video_id=video.video_id, ready=not processing)
        return Response.json(
            {"response": {"percents": percents, "is_ready": not processing, "is_claimed": False}}
        )

    def _clip_edit(self, request: Request) -> Response:
        form = request.form()
        token = self._clip_token(form, "shortVideo.edit")
        if isinstance(token, Response):
            return token
        video = self._clip(form, token, "shortVideo.edit")
        if isinstance(video, Response):
            return video
        video.description = form.get("description", video.description)
        self.record("shortVideo.edit", video_id=video.video_id)
        return Response.json(
            {
                "response": {
                    "video": {
                        "id": video.video_id,
                        "owner_id": video.owner_id,
                        "description": video.description,
                    }
                }
            }
        )

    def _clip_publish(self, request: Request) -> Response:
        form = request.form()
        token = self._clip_token(form, "shortVideo.publish")
        if isinstance(token, Response):
            return token
        video = self._clip(form, token, "shortVideo.publish")
        if isinstance(video, Response):
            return video
        if form.get("license_agree") not in ("1", "true"):
            return self._error(100, "shortVideo.publish")
        if not video.uploaded or video.pending_checks > 0:
            self.record("shortVideo.publish", video_id=video.video_id, not_ready=True)
            return self._error(3001, "shortVideo.publish")
        if video.restricted:
            return self._error(15, "shortVideo.publish")
        video.published = True
        self.record("shortVideo.publish", video_id=video.video_id)
        return Response.json(
            {
                "response": {
                    "video": {
                        "id": video.video_id,
                        "owner_id": video.owner_id,
                        "title": video.title,
                        "direct_url": f"https://vk.com/clip{video.owner_id}_{video.video_id}",
                    }
                }
            }
        )

    # -- VK ID and the legacy implicit flow -----------------------------------------------

    def _authorize(self, request: Request) -> Response:
        if request.query.get("client_id") != CLIENT_ID:
            return Response.html("<h1>Ошибка</h1><p>invalid client_id</p>", status=400)
        title = "VK" if request.query.get("response_type") == "token" else "VK ID"
        return consent_page(title, request, "/authorize/approve")

    def _approve(self, request: Request) -> Response:
        query = request.query
        if query.get("response_type") == "token":
            return self._approve_implicit(query)
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
        self.issued.append(code)
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

    def _approve_implicit(self, query: dict[str, str]) -> Response:
        """The token itself, in the fragment of the redirect (never sent to a server)."""
        target = query.get("redirect_uri", "")
        if query.get("deny"):
            fragment = {
                "error": "access_denied",
                "error_description": "The user or authorization server denied the request.",
                "state": query.get("state", ""),
            }
            return Response.redirect(f"{target}#{urlencode(fragment)}")
        user_id = int(query.get("user_id", DEFAULT_USER))
        access, _ = self.issue_token(user_id, lifetime=IMPLICIT_LIFETIME)
        self.record("authorize", client_id=query.get("client_id"), flow="implicit")
        fragment = {
            "access_token": access,
            "expires_in": IMPLICIT_LIFETIME,
            "user_id": user_id,
            "state": query.get("state", ""),
        }
        return Response.redirect(f"{target}#{urlencode(fragment)}")

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
        access, refresh = self.issue_token(
            user_id, device_id=form.get("device_id", ""), lifetime=self.token_lifetime
        )
        self.record("oauth2/auth", grant_type=grant_type)
        return Response.json(
            {
                "access_token": access,
                "refresh_token": refresh,
                "id_token": "eyJ." + secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": int(self.token_lifetime),
                "user_id": user_id,
                "state": form.get("state", ""),
                "scope": "vkid.personal_info video groups",
            }
        )
