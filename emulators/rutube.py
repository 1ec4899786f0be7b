"""Rutube, as Rutube's own API client (rutube/php-api-client, src/Video.php and
src/Transports/DefaultTransport.php) calls it: `POST /api/accounts/token_auth/` for a token,
`Authorization: Token …`, JSON bodies, **URL import** with `POST /api/video/ {url, title,
description, is_hidden, category_id}` (this emulator then fetches the URL, as Rutube does),
`GET /api/video/{id}/`, `GET /api/video/person/` (paged: page, per_page, has_next, results).

Refused as the real service refuses (per that client's tests and issue #4): bad credentials
are 400; no token is 401; a missing or non-http(s) or over-512-byte `url` is 400 with the
field named. How an import shows its progress follows the one public client that reads it
(crosspostly/fac, sync_production.py): `is_deleted` with `action_reason.name`
"downloading_video" while fetching, then "moderation"; any other reason on a deleted video
is a refusal. An import that is still starting reads as deleted with no reason at all for a
while (fac's log shows it within 10 s; fac waits 5 minutes before believing it):
`starting_reads` plays that. `GET /api/video/person/` lists the owner's videos newest first, imports still
being fetched included: an assumption (no client shows it either way) that autopost's
recovery of a lost import answer relies on. The names "download_error" (the fetch failed) and "blocked" (moderation said
no) are this emulator's own: Rutube's are not published.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import requests  # moto intercepts `requests` in-process, so presigned moto URLs are fetchable

from emulators.http import CHUNK, Emulator, Fault, Request, Response

DEMO_LOGIN = "demo@rutube.local"
DEMO_PASSWORD = "demo-password"
MAX_URL = 512
FETCH_TIMEOUT = 60
MOSCOW = timezone(timedelta(hours=3))


@dataclass
class RutubeVideo:
    video_id: str
    user_id: int
    title: str
    description: str
    source_url: str
    is_hidden: bool = False
    is_deleted: bool = True
    reason: str | None = "downloading_video"
    size: int = 0
    sha256: str = ""
    hits: int = 0
    reads_left: int = 1
    starting_left: int = 0  # status reads that show a deleted video with no reason yet
    fetched: threading.Event = field(default_factory=threading.Event)
    outcome: str | None = None  # after the fetch: None (fine), "download_error", "blocked"
    # Moscow time without an offset, as Rutube writes it.
    created_ts: str = field(
        default_factory=lambda: datetime.now(MOSCOW).replace(tzinfo=None).isoformat(timespec="seconds")
    )

    @property
    def complete(self) -> bool:
        return not self.is_deleted


class RutubeEmulator(Emulator):
    name = "rutube"

    def __init__(self) -> None:
        super().__init__()
        self.reset_state()

    def reset_state(self) -> None:
        self.tokens: dict[str, int] = {}
        self.accounts: dict[str, tuple[str, int]] = {DEMO_LOGIN: (DEMO_PASSWORD, 501)}
        self.issued.append(DEMO_PASSWORD)
        self.videos: dict[str, RutubeVideo] = {}
        # Status reads an import stays "downloading_video" for (then its fetch's outcome).
        self.download_reads = 1
        # Status reads before that, while the import starts: deleted, no reason.
        self.starting_reads = 0
        self._lock_state = threading.Lock()

    def issue_token(self, user_id: int = 501) -> str:
        token = secrets.token_hex(20)
        self.tokens[token] = user_id
        self.issued.append(token)
        return token

    def add_video(self, user_id: int = 501, hits: int = 0) -> str:
        """An already published video (for stats tests); its id."""
        video = RutubeVideo(
            secrets.token_hex(16), user_id, "clip", "", "", is_deleted=False, reason=None, hits=hits
        )
        video.fetched.set()
        self.videos[video.video_id] = video
        return video.video_id

    def add_account(self, login: str, password: str, user_id: int) -> None:
        self.accounts[login] = (password, user_id)
        self.issued.append(password)

    def state(self) -> dict[str, Any]:
        return {
            "demo_account": {"login": DEMO_LOGIN, "password": DEMO_PASSWORD},
            "videos": [
                {
                    "id": v.video_id,
                    "complete": v.complete,
                    "size": v.size,
                    "title": v.title,
                    "reason": v.reason,
                }
                for v in self.videos.values()
            ],
        }

    def control(self, request: Request) -> Response:
        """`POST /_emulator/token {user_id}`: an API token, as Rutube's profile page gives one."""
        if request.method == "POST" and request.path == "/_emulator/token":
            return Response.json({"token": self.issue_token(int(request.json().get("user_id", 501)))})
        return super().control(request)

    def route(self, request: Request) -> tuple[str, Callable[[Request], Response]] | None:
        path, method = request.path, request.method
        if path == "/api/accounts/token_auth/" and method == "POST":
            return "token_auth", self._token_auth
        if path == "/api/video/" and method == "POST":
            return "import", self._authorized(self._import)
        if path == "/api/video/person/" and method == "GET":
            return "person", self._authorized(self._person)
        if path.startswith("/api/video/") and method == "GET":
            return "video", self._authorized(self._video)
        return None

    def fault_response(self, endpoint: str, fault: Fault) -> Response:
        if fault.kind == "rate_limit":
            return Response.json(
                {"detail": f"Request was throttled. Expected available in {fault.retry_after} seconds."},
                429,
                {"Retry-After": str(fault.retry_after)},
            )
        if fault.kind == "token_expired":
            return Response.json({"detail": "Недопустимый токен."}, 401)
        return Response.json({"detail": "Internal server error"}, 500)

    def _authorized(self, handler: Callable[[Request, int], Response]) -> Callable[[Request], Response]:
        def check(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            user_id = self.tokens.get(header.removeprefix("Token ")) if header.startswith("Token ") else None
            if user_id is None:
                request.read()
                return Response.json({"detail": "Учетные данные не были предоставлены."}, 401)
            return handler(request, user_id)

        return check

    def _token_auth(self, request: Request) -> Response:
        raw = request.read()
        if request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(raw or b"{}")
        else:
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        found = self.accounts.get(str(body.get("username", "")))
        self.record("token_auth")
        if found is None or found[0] != body.get("password"):
            return Response.json(
                {"non_field_errors": ["Невозможно войти с предоставленными учетными данными."]}, 400
            )
        return Response.json({"token": self.issue_token(found[1])})

    def _import(self, request: Request, user_id: int) -> Response:
        try:
            body = request.json()
        except ValueError:
            return Response.json({"detail": "JSON parse error"}, 400)
        url = str(body.get("url") or "")
        if not url:
            return Response.json({"url": ["Обязательное поле."]}, 400)
        if not url.startswith(("http://", "https://")) or len(url.encode()) > MAX_URL:
            return Response.json({"url": ["Неправильный url"]}, 400)
        if not body.get("title"):
            return Response.json({"title": ["Обязательное поле."]}, 400)
        video = RutubeVideo(
            secrets.token_hex(16),
            user_id,
            str(body["title"]),
            str(body.get("description") or ""),
            url,
            is_hidden=bool(body.get("is_hidden")),
            reads_left=self.download_reads,
            starting_left=self.starting_reads,
        )
        with self._lock_state:
            self.videos[video.video_id] = video
        self.record("import", video_id=video.video_id, url_length=len(url))
        threading.Thread(target=self._fetch, args=(video,), name="rutube-fetch", daemon=True).start()
        return Response.json({"video_id": video.video_id, "track_id": int(time.time())})

    def _fetch(self, video: RutubeVideo) -> None:
        """What Rutube does with an import: download the URL (streamed, hashed)."""
        fault = self.take_fault("fetch")
        try:
            if fault is not None:
                raise OSError(f"fault: {fault.kind}")
            digest, size = hashlib.sha256(), 0
            with requests.get(video.source_url, stream=True, timeout=FETCH_TIMEOUT) as answer:
                if answer.status_code != 200:
                    raise OSError(f"HTTP {answer.status_code}")
                for chunk in answer.iter_content(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            video.size, video.sha256 = size, digest.hexdigest()
            video.outcome = "blocked" if self.take_fault("moderation") is not None else None
            self.record("fetch", video_id=video.video_id, bytes=size)
        except (OSError, requests.RequestException) as exc:
            video.outcome = "download_error"
            self.record("fetch", video_id=video.video_id, failed=str(exc)[:80])
        finally:
            video.fetched.set()

    def _advance(self, video: RutubeVideo) -> None:
        """A status read: downloading for `download_reads` reads, then what the fetch found."""
        with self._lock_state:
            if video.reason != "downloading_video" or video.starting_left > 0:
                return
            if video.reads_left > 0:
                video.reads_left -= 1
                return
        video.fetched.wait(FETCH_TIMEOUT)
        with self._lock_state:
            if video.outcome is None:
                video.is_deleted, video.reason = False, "moderation"
            else:
                video.is_deleted, video.reason = True, video.outcome

    def _video_object(self, video: RutubeVideo) -> dict[str, Any]:
        with self._lock_state:
            starting = video.starting_left > 0
            if starting:
                video.starting_left -= 1
        return {
            "id": video.video_id,
            "title": video.title,
            "description": video.description,
            "is_hidden": video.is_hidden,
            "is_deleted": video.is_deleted,
            "is_adult": False,
            "category": {"id": 13, "name": "Разное"},
            "thumbnail_url": f"https://pic.rutubelist.ru/video/{video.video_id[:2]}/{video.video_id}.jpg",
            "video_url": f"https://rutube.ru/video/{video.video_id}/",
            "embed_url": f"https://rutube.ru/play/embed/{video.video_id}",
            "duration": 2,
            "hits": video.hits,
            "created_ts": video.created_ts,
            "publication_ts": video.created_ts,
            "author": {"id": video.user_id, "name": f"Канал {video.user_id}"},
            "action_reason": {"id": 1, "name": video.reason} if video.reason and not starting else None,
        }

    def _video(self, request: Request, user_id: int) -> Response:
        video_id = request.path.removeprefix("/api/video/").strip("/")
        video = self.videos.get(video_id)
        self.record("video", video_id=video_id)
        if video is None or video.user_id != user_id:
            return Response.json({"detail": "Не найдено."}, 404)
        self._advance(video)
        return Response.json(self._video_object(video))

    def _person(self, request: Request, user_id: int) -> Response:
        page = max(1, int(request.query.get("page", "1") or 1))
        limit = max(1, min(100, int(request.query.get("limit", "20") or 20)))
        # The owner's own list, newest first, imports still being fetched included (as the
        # owner's studio shows them; an assumption, see the module's docstring).
        with self._lock_state:
            own = [
                v
                for v in reversed(self.videos.values())
                if v.user_id == user_id and (not v.is_deleted or v.reason == "downloading_video")
            ]
        chunk = own[(page - 1) * limit : page * limit]
        has_next = page * limit < len(own)
        self.record("person")
        return Response.json(
            {
                "page": page,
                "per_page": limit,
                "has_next": has_next,
                "next": f"{self.base_url}/api/video/person/?page={page + 1}&limit={limit}"
                if has_next
                else None,
                "previous": None
                if page == 1
                else f"{self.base_url}/api/video/person/?page={page - 1}&limit={limit}",
                "num_pages": max(1, -(-len(own) // limit)),
                "results": [self._video_object(v) for v in chunk],
            }
        )
