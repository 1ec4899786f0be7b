"""VK: the API methods we call, the upload servers, VK ID (OAuth 2.1), the legacy implicit
flow (oauth.vk.com) and the web session of VK's own video app (cabinet.vkvideo.ru,
api.vkvideo.ru). One server plays them all.

What it is modelled on, and what it refuses as the real service does (README, "What rests
on what", lists the same with confidence):
- `video.save`, `video.get`, `users.get`, `groups.get`, the answer and error envelopes
  (`{"response": ...}`, `{"error": {"error_code", "error_msg", "request_params"}}`, HTTP
  200): the official schema, tests/reference/vk-api-schema (tests validate the answers).
  `video.save` ignores `is_short` (not in the schema): it makes a regular video.
- Rights: a token holds the scopes it was granted. VK ID grants a new app only
  `vkid.personal_info` and silently drops `video`/`wall`/`offline` (woxcab/vkrss#24,
  GordeyZuev/ZoomUploader docs/VK_POLICY_UPDATE_2026.md, maxkaymaks-web/smm-system
  docs/vk-user-token-photos.md); `POST /_emulator/app {"rights": [...]}` sets what this app
  holds (by default an older app that still holds `video` and `groups`). A method called
  without its scope: error 15, subcode 1133 "Access denied: no access to call this method.
  It cannot be called with current scopes." (parser_avito#267, vk-android-sdk#562).
- The implicit flow: a new app gets the JSON page `{"error":"invalid_request",
  "error_description":"Security Error"}` at /error?err=2 instead of a redirect
  (G-kylexy/vkomic#50, VKCOM/vk-ios-sdk#145); `offline` with `v` >= 5.105 is
  `"invalid scope"` (VKCOM/vk-android-sdk#518). Its token (no `offline`) is bound to the
  browser's address: from another, error 5 subcode 1130 "User authorization failed:
  access_token was given to another ip address." (vk-android-sdk#449,
  bulatko/vk-mcp-server docs/SETUP.md).
- `shortVideo.*` (undocumented): as MaxNagibator/MediaOrcestrator (VkVideoService.cs) and
  crosspostly/diveclub-vkposter (clip_web_upload.py, CLIPS.md) call them. Only a web token
  of VK's own app may: any other token gets error 3 "Unknown method passed" (CLIPS.md: on
  every version tried). The web token: `POST /al_video.php?act=web_token` with the signed-in
  session's cookies and `version=1&app_id=52461373`, answered
  `[{"access_token", "expires", "user_id", "is_active"}]`, `[]` for a session VK no longer
  accepts (MediaOrcestrator); it lives minutes (CLIPS.md: 5-10) and, as the others, is bound
  to the address that minted it. The clip upload: one raw body with `Content-Range`,
  `Session-ID`, `X-Uploading-Mode: parallel` (MediaOrcestrator) or multipart `file`
  (diveclub), answered `{video_hash, size, owner_id, video_id}`, or the old
  `<retval>1</retval>` (diveclub clip_upload.py; `POST /_emulator/upload-answer`).
  `encodeProgress` answers `{percents, is_ready}`; `publish` needs `license_agree=1` and
  answers error 3001 before encoding is done. Clips are not in `video.get` (diveclub CLIPS.md
  on listings; here not by id either: our code must never count on it); their figures come
  from `shortVideo.get(short_video_raw_ids)` as `feed.items[].item.engagement`
  (MediaOrcestrator VkVideoChannel.cs).
- A video VK refuses after upload carries `content_restricted` and
  `content_restricted_message` (schema fields); fault `restricted` on endpoint `processing`.
- VK ID: `/authorize` with PKCE S256, `/oauth2/auth` with `device_id` (VKCOM/vkid-web-sdk),
  answering the granted `scope`. Legacy: `/authorize?response_type=token` answers in the
  redirect's fragment `#access_token=…&expires_in=86400&user_id=…&state=…` (dev.vk.com).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from emulators.http import CutConnection, Emulator, Fault, Request, Response, read_multipart
from emulators.oauth import Grant, consent_page, new_code, redeem

ERRORS = {
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    # error 5, subcode 1130 (vk-android-sdk#449; bulatko/vk-mcp-server docs/SETUP.md)
    1130: "User authorization failed: access_token was given to another ip address.",
    6: "Too many requests per second",
    9: "Flood control",
    10: "Internal server error",
    15: "Access denied",
    # error 15, subcode 1133 (parser_avito#267, vk-android-sdk#562)
    1133: "Access denied: no access to call this method. It cannot be called with current scopes.",
    29: "Rate limit reached",
    100: "One of the parameters specified was missing or invalid",
    3001: "Video is not processed yet",
}
REQUESTS_PER_SECOND = 3
DEFAULT_USER = 1001
DEFAULT_COMMUNITY = 2001
CLIENT_ID = "51234567"
IMPLICIT_LIFETIME = 86400
# VK's own video app, whose web token the signed-in session mints (MediaOrcestrator).
WEB_APP_ID = "52461373"
WEB_TOKEN_LIFETIME = 600  # diveclub CLIPS.md: 5-10 minutes
# The cookie that is the session here (a guess among those VK sets; README).
SESSION_COOKIE = "remixnsid"
# Which scope each method needs of a token of a third-party app.
METHOD_SCOPES = {"video.save": "video", "video.get": "video", "groups.get": "groups"}
# The first API version that calls `offline` an invalid scope (vk-android-sdk#518).
NO_OFFLINE_SINCE = (5, 105)


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
    file_size: int = 0  # what shortVideo.create was told
    upload_session: str = ""  # the Session-ID its file came under
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
    scopes: frozenset[str]
    # A web token of VK's own app (minted from a session): the only kind the clip methods take.
    web: bool = False
    # The address the token is bound to (the legacy flow's browser, a web token's minter).
    address: str | None = None


@dataclass
class Session:
    """A browser signed in to VK: its cookies mint web tokens while it lasts."""

    user_id: int
    alive: bool = True


class VkEmulator(Emulator):
    name = "vk"

    def __init__(self, enforce_rate_limit: bool = True) -> None:
        super().__init__()
        self.enforce_rate_limit = enforce_rate_limit
        self.reset_state()

    def reset_state(self) -> None:
        self.videos: dict[tuple[int, int], Video] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, tuple[int, str, frozenset[str]]] = {}
        self.grants: dict[str, Grant] = {}
        self.sessions: dict[str, Session] = {}
        self.users: dict[int, tuple[str, str]] = {DEFAULT_USER: ("Иван", "Петров")}
        # user id -> {community id: name} they administer or edit
        self.communities: dict[int, dict[int, str]] = {DEFAULT_USER: {DEFAULT_COMMUNITY: "Клипы о закатах"}}
        # What our app holds: an older app still holding video rights; a new one holds none.
        self.app_rights: frozenset[str] = frozenset({"video", "groups"})
        # May our app use the legacy implicit flow? A new app gets "Security Error".
        self.legacy_flow_allowed = True
        self.web_token_lifetime: float = WEB_TOKEN_LIFETIME
        # What the clip upload server answers: "json", or the old "retval".
        self.upload_answer = "json"
        # How many status reads a new upload stays "processing" for.
        self.processing_checks = 1
        # How long an access token from VK ID lives (its `expires_in`; VK ID says 3600 s).
        self.token_lifetime = 3600.0
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._next_video = 456239000
        self._state_lock = threading.Lock()

    # -- test setup -----------------------------------------------------------------------

    def issue_token(
        self,
        user_id: int = DEFAULT_USER,
        lifetime: float = 3600,
        device_id: str = "dev",
        scopes: frozenset[str] | None = None,
        address: str | None = None,
    ) -> tuple[str, str]:
        """A token of our app: with `scopes`, or all the app holds."""
        access, refresh = "vk1.a." + secrets.token_urlsafe(32), "vk1.r." + secrets.token_urlsafe(32)
        granted = self.app_rights if scopes is None else scopes & self.app_rights
        self.tokens[access] = Token(user_id, time.time() + lifetime, frozenset(granted), address=address)
        self.refresh_tokens[refresh] = (user_id, device_id, frozenset(granted))
        self.issued += [access, refresh]
        self.users.setdefault(user_id, ("Пользователь", str(user_id)))
        return access, refresh

    def expire_token(self, access: str) -> None:
        self.tokens[access].expires_at = time.time() - 1

    def issue_session(self, user_id: int = DEFAULT_USER) -> str:
        """The Cookie header of a browser signed in to VK as `user_id`: the session cookie
        among the others a page carries (analytics, language), which a client should not keep."""
        value = secrets.token_hex(24)
        self.sessions[value] = Session(user_id)
        self.issued.append(value)
        self.users.setdefault(user_id, ("Пользователь", str(user_id)))
        return f"remixlang=0; {SESSION_COOKIE}={value}; remixstlid=9071; tmr_lvid={secrets.token_hex(8)}"

    def end_session(self, cookies: str) -> None:
        """The user signed out everywhere (or VK ended the session): no more web tokens."""
        for part in cookies.split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE and value in self.sessions:
                self.sessions[value].alive = False

    def expire_web_tokens(self) -> None:
        for token in self.tokens.values():
            if token.web:
                token.expires_at = time.time() - 1

    def add_videos(self, owner_id: int, count: int, kind: str = "video", **stats: Any) -> list[str]:
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
                    kind,
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
            "app_rights": sorted(self.app_rights),
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
            scopes = frozenset(spec["scopes"]) if "scopes" in spec else None
            access, refresh = self.issue_token(user_id, device_id=spec.get("device_id", "dev"), scopes=scopes)
            return Response.json({"access_token": access, "refresh_token": refresh, "user_id": user_id})
        if request.path == "/_emulator/session" and request.method == "POST":
            user_id = int(request.json().get("user_id", DEFAULT_USER))
            return Response.json({"cookies": self.issue_session(user_id), "user_id": user_id})
        if request.path == "/_emulator/app" and request.method == "POST":
            spec = request.json()
            if "rights" in spec:
                self.app_rights = frozenset(spec["rights"])
            if "legacy_flow" in spec:
                self.legacy_flow_allowed = bool(spec["legacy_flow"])
            return Response.json({"rights": sorted(self.app_rights), "legacy_flow": self.legacy_flow_allowed})
        if request.path == "/_emulator/upload-answer" and request.method == "POST":
            self.upload_answer = str(request.json().get("format", "json"))
            return Response.json({"format": self.upload_answer})
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
            "/method/shortVideo.get": self._clip_get,
            "/al_video.php": self._web_token,
            "/error": self._oauth_error_page,
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

    def _error(self, code: int, method: str, subcode: int | None = None) -> Response:
        params = [{"key": "method", "value": method}, {"key": "v", "value": "5.199"}]
        error: dict[str, Any] = {
            "inner_type": "base_error",  # required by the official schema
            "error_code": code,
            "error_msg": ERRORS[subcode or code],
            "request_params": params,
        }
        if subcode is not None:
            error["error_subcode"] = subcode
        return Response.json({"error": error})

    def _authorized(self, request: Request, form: dict[str, str], method: str) -> Token | Response:
        token = form.get("access_token", "")
        found = self.tokens.get(token)
        if found is None or found.expires_at < time.time():
            return self._error(5, method)
        if found.address is not None and found.address != request.client:
            self.record(method, another_address=True)
            return self._error(5, method, subcode=1130)
        needed = METHOD_SCOPES.get(method)
        if needed and not found.web and needed not in found.scopes:
            self.record(method, missing_scope=needed)
            return self._error(15, method, subcode=1133)
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
        token = self._authorized(request, form, "video.save")
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
        if video is None or video.upload_token != request.query.get("hash"):
            return Response.json({"error": "invalid upload url"})
        raw = kind == "clip" and not request.headers.get("content-type", "").startswith("multipart/")
        if video.uploaded and raw and request.headers.get("session-id") == video.upload_session:
            return self._upload_again(request, video)
        if video.uploaded:
            return Response.json({"error": "invalid upload url"})
        if raw:
            received = self._raw_clip(request, video)
            if isinstance(received, Response):
                return received
            size, sha256 = received
        else:
            _, files = read_multipart(request)
            wanted = "file" if kind == "clip" else "video_file"
            file = next((f for f in files if f.field == wanted), None)
            if file is None:
                return Response.json({"error": f"{wanted} is missing"})
            size, sha256 = file.size, file.sha256
        video.uploaded, video.size, video.sha256 = True, size, sha256
        video.upload_session = request.headers.get("session-id", "")
        video.video_hash = secrets.token_hex(8)
        video.pending_checks = video.total_checks = self.processing_checks
        refusal = self.take_fault("processing")
        if refusal is not None:
            video.restricted = refusal.message or "Видео нарушает правила платформы"
        self.record(f"upload/{kind}", video_id=video.video_id, bytes=size, sha256=sha256)
        if kind == "clip" and self.upload_answer == "retval":
            return Response(200, b"<retval>1</retval>", {"Content-Type": "text/xml"})
        return Response.json(
            {
                "size": size,
                "owner_id": video.owner_id,
                "video_id": video.video_id,
                "video_hash": video.video_hash,
            }
        )

    def _upload_again(self, request: Request, video: Video) -> Response:
        """The whole file again under the session that already delivered it: the same answer.
        Inferred from OK's resumable upload (apiok.ru/dev/examples/video_upload: the upload
        session, not the request, is the unit; VK's clip uploads go to OK's hosts per
        diveclub CLIPS.md), not seen in a VK client (README)."""
        received = self._raw_clip(request, video)
        if isinstance(received, Response):
            return received
        self.record("upload/clip", video_id=video.video_id, again=True)
        return Response.json(
            {
                "size": video.size,
                "owner_id": video.owner_id,
                "video_id": video.video_id,
                "video_hash": video.video_hash,
            }
        )

    def _raw_clip(self, request: Request, video: Video) -> tuple[int, str] | Response:
        """The whole file as one raw body, as VK's own uploader sends it (MediaOrcestrator):
        `Content-Range: bytes 0-(N-1)/N` for the size `shortVideo.create` was told, a
        `Session-ID`; a body cut short leaves the clip without a file (the address stays good
        for the same session to send again)."""
        match = re.fullmatch(r"bytes 0-(\d+)/(\d+)", request.headers.get("content-range", ""))
        session = request.headers.get("session-id", "")
        if match is None or not session:
            return Response(400, b"Bad Request", {"Content-Type": "text/plain"})
        last, total = int(match.group(1)), int(match.group(2))
        if total != video.file_size or last != total - 1:
            return Response(416, b"Requested Range Not Satisfiable", {"Content-Type": "text/plain"})
        digest, size = hashlib.sha256(), 0
        while chunk := request.body.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
        if size != total:
            raise CutConnection()
        return size, digest.hexdigest()

    def _video_get(self, request: Request) -> Response:
        form = request.form()
        token = self._authorized(request, form, "video.get")
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
            if video is None or not video.uploaded or video.is_short:
                continue  # clips are not in video.get
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
        token = self._authorized(request, form, "users.get")
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
        token = self._authorized(request, form, "groups.get")
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

    def _clip_token(self, request: Request, form: dict[str, str], method: str) -> Token | Response:
        token = self._authorized(request, form, method)
        if isinstance(token, Response):
            self.record(method, rejected=True)
            return token
        if not token.web:
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
        token = self._clip_token(request, form, "shortVideo.create")
        if isinstance(token, Response):
            return token
        if not form.get("file_size", "").isdigit():
            return self._error(100, "shortVideo.create")
        owner_id = self._owner_for(token, form, "shortVideo.create")
        if isinstance(owner_id, Response):
            return owner_id
        video = self._new_video(owner_id, "short_video", "", form.get("description", ""))
        video.file_size = int(form["file_size"])
        self.record(
            "shortVideo.create",
            video_id=video.video_id,
            owner_id=owner_id,
            version=form.get("v"),
            client_id=form.get("client_id"),
        )
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
        token = self._clip_token(request, form, "shortVideo.encodeProgress")
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
        token = self._clip_token(request, form, "shortVideo.edit")
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
        token = self._clip_token(request, form, "shortVideo.publish")
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

    def _clip_get(self, request: Request) -> Response:
        """A clip's figures as VK's video app reads them (MediaOrcestrator VkVideoChannel.cs)."""
        form = request.form()
        token = self._clip_token(request, form, "shortVideo.get")
        if isinstance(token, Response):
            return token
        items = []
        for raw in filter(None, form.get("short_video_raw_ids", "").split(",")):
            owner, _, video_id = raw.partition("_")
            if not (owner.lstrip("-").isdigit() and video_id.isdigit()):
                return self._error(100, "shortVideo.get")
            video = self.videos.get((int(owner), int(video_id)))
            if video is None or not video.is_short or not video.published:
                continue
            engagement = {
                "view_count": video.views,
                "comment_count": video.comments,
                "like_count": video.likes,
                "repost_count": video.reposts,
            }
            item = {
                "id": video.video_id,
                "owner_id": video.owner_id,
                "description": video.description,
                "duration_seconds": 2,
                "publish_timestamp": video.date,
                "engagement": engagement,
            }
            items.append({"type": "short_video_full", "item": item})
        self.record("shortVideo.get", videos=len(items))
        return Response.json({"response": {"feed": {"items": items}}})

    # -- the web session of VK's video app ------------------------------------------------

    def _web_token(self, request: Request) -> Response:
        """`al_video.php?act=web_token`: a short-lived token of VK's own app for the session
        in the cookies, bound to the address that asked; `[]` when the session is over."""
        if request.query.get("act") != "web_token" or request.method != "POST":
            return Response.html("<html><body>VK</body></html>", status=404)
        form = request.form()
        cookies = request.cookies()
        self.record(
            "web_token",
            cookies=sorted(cookies),
            app_id=form.get("app_id"),
            origin=request.headers.get("origin"),
        )
        if form.get("app_id") != WEB_APP_ID or form.get("version") != "1":
            return Response.json([])
        session = self.sessions.get(cookies.get(SESSION_COOKIE, ""))
        if session is None or not session.alive:
            return Response.json([])
        access = "vk1.a." + secrets.token_urlsafe(40)
        expires = time.time() + self.web_token_lifetime
        self.tokens[access] = Token(
            session.user_id, expires, frozenset({"video", "groups"}), web=True, address=request.client
        )
        self.issued.append(access)
        answer = {
            "access_token": access,
            "expires": int(expires),
            "user_id": session.user_id,
            "is_active": True,
        }
        return Response.json([answer])

    # -- VK ID and the legacy implicit flow -----------------------------------------------

    def _oauth_error_page(self, request: Request) -> Response:
        """Where oauth.vk.com sends a browser it will not serve (`err=2`): a JSON page."""
        description = {"2": "Security Error", "3": "invalid scope"}.get(
            request.query.get("err", ""), "Unknown error"
        )
        return Response.json({"error": "invalid_request", "error_description": description})

    def _authorize(self, request: Request) -> Response:
        if request.query.get("client_id") != CLIENT_ID:
            return Response.html("<h1>Ошибка</h1><p>invalid client_id</p>", status=400)
        if request.query.get("response_type") == "token":
            refused = self._implicit_refusal(request.query)
            if refused is not None:
                return refused
        title = "VK" if request.query.get("response_type") == "token" else "VK ID"
        return consent_page(title, request, "/authorize/approve")

    def _approve(self, request: Request) -> Response:
        query = request.query
        if query.get("response_type") == "token":
            return self._approve_implicit(request)
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

    def _implicit_refusal(self, query: dict[str, str]) -> Response | None:
        """A new app may not use the legacy flow (vkomic#50); `offline` is an invalid scope
        since 5.105 (vk-android-sdk#518). VK shows its error page, never the redirect."""
        if not self.legacy_flow_allowed:
            self.record("authorize", refused="Security Error", flow="implicit")
            return Response.redirect(f"{self.base_url}/error?err=2")
        version = tuple(int(part) for part in re.findall(r"\d+", query.get("v", "0"))[:2])
        if "offline" in query.get("scope", "").split(",") and version >= NO_OFFLINE_SINCE:
            self.record("authorize", refused="invalid scope", flow="implicit")
            return Response.redirect(f"{self.base_url}/error?err=3")
        return None

    def _approve_implicit(self, request: Request) -> Response:
        query = request.query
        refused = self._implicit_refusal(query)
        if refused is not None:
            return refused
        """The token itself, in the fragment of the redirect (never sent to a server)."""
        target = query.get("redirect_uri", "")
        fragment: dict[str, str | int]
        if query.get("deny"):
            fragment = {
                "error": "access_denied",
                "error_description": "The user or authorization server denied the request.",
                "state": query.get("state", ""),
            }
            return Response.redirect(f"{target}#{urlencode(fragment)}")
        user_id = int(query.get("user_id", DEFAULT_USER))
        # Without `offline` (which VK refuses) the token is bound to the browser's address.
        scopes = frozenset(query.get("scope", "").split(","))
        access, _ = self.issue_token(
            user_id, lifetime=IMPLICIT_LIFETIME, scopes=scopes, address=request.client
        )
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
            # What was asked for and the app holds; the rest is dropped without a word.
            scopes = frozenset(grant.scope.split()) & self.app_rights
        elif grant_type == "refresh_token":
            found = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if found is None or found[1] != form.get("device_id"):
                return Response.json(
                    {"error": "invalid_grant", "error_description": "Refresh token is invalid"}, 400
                )
            user_id, scopes = found[0], found[2]
        else:
            return Response.json({"error": "unsupported_grant_type"}, 400)
        access, refresh = self.issue_token(
            user_id, device_id=form.get("device_id", ""), lifetime=self.token_lifetime, scopes=scopes
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
                "scope": " ".join(["vkid.personal_info", *sorted(scopes)]),
            }
        )
