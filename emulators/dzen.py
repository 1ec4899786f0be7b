"""Дзен's studio web API, as the author's browser session uses it (there is no public
publisher API). Modelled on the public tools that call it, with their confidence in the
README ("What rests on what"):
- the session is the studio's cookies (`Session_id` among them: vetalione/content_pipeline
  filters to it); a dead session gets 401 `{"errors": [{"type": "auth-error"}]}` from the
  JSON API and a redirect to passport.yandex.ru from pages (every tool tests for it);
- `GET /media-api/csrf-token` → `{"result": "<hex>:<ms>"}` (content_pipeline); the token is
  sent as `X-Csrf-Token`, **expires** (after `csrf_ttl` seconds here; Дзен publishes no
  figure) and is then refused with 403;
- `/profile/editor` redirects to `/profile/editor/id/{publisher id}`;
  `GET /editor-api/v3/publishers/{id}` (fromgate/ProzenExtension);
- the video flow of LiberSynth/VIPilot (clients/dzen.py, cbb70387: the last version that
  used this API): `add-publication` with `{"publicationType":"gif","content":{"gifContent":
  {}}}` (any other body is refused: no public client sends one), `start-upload-video` (a
  tus URL on the CDN, no cookies), tus `HEAD`/`PATCH`, `finish-upload-video`, the
  publication polled until `gifContent.isConverted`, then
  `update-publication-content-and-publish` with `gifContent` at the top level (refused
  without it, or without the converted video's id), answered `{"result": "OK"}`; or, as
  other tools report, `400 {"errors": [{"type": "captcha-required-error"}]}` (fault
  `captcha`; vetalione/content_pipeline), `400 illegal-argument-exception` when it wants the
  page's anti-bot `fp` (fault `fp_required`; Conkormedia/dzen-ai-factory), or another
  `result` (fault `not_ok`);
- `GET /editor-api/v2/publisher/{id}/stats2?publicationIds=…&fields=…` (ProzenExtension).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulators.http import CHUNK, Emulator, Fault, Request, Response

TUS_VERSION = "1.0.0"
DEFAULT_PUBLISHER = "64a1f0c2b9e4d3a1c0ffee01"


@dataclass
class Session:
    publisher_id: str
    name: str
    alive: bool = True
    csrf: dict[str, float] = field(default_factory=dict)  # token -> expires at


@dataclass
class DzenVideo:
    publication_id: str
    publisher_id: str
    publication_type: str
    upload_id: str = ""
    length: int = 0
    offset: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    sha256: str = ""
    size: int = 0
    finished: bool = False
    pending_checks: int = 0
    published: bool = False
    title: str = ""
    description: str = ""
    views: int = 0
    likes: int = 0
    comments: int = 0
    reposts: int = 0

    @property
    def uploaded(self) -> bool:
        return self.finished

    @property
    def converted(self) -> bool:
        return self.finished and self.pending_checks == 0


class DzenEmulator(Emulator):
    name = "dzen"

    def __init__(self) -> None:
        super().__init__()
        self.reset_state()

    def reset_state(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.videos: dict[str, DzenVideo] = {}
        self.uploads: dict[str, str] = {}  # upload id -> publication id
        self.csrf_ttl = 600.0
        # Status reads a finished upload stays unconverted for.
        self.processing_checks = 1
        self._lock_state = threading.Lock()

    # -- test setup -----------------------------------------------------------------------

    def issue_session(self, publisher_id: str = DEFAULT_PUBLISHER, name: str = "Мой канал в Дзене") -> str:
        """A signed-in studio session: the Cookie header a browser would send."""
        secret, second = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        session_id = f"3:{int(time.time())}.5.0.{secret}"
        self.sessions[session_id] = Session(publisher_id, name)
        self.issued += [secret, second]  # the random parts (the rest is a timestamp and an id)
        return f"Session_id={session_id}; sessionid2={second}; yandexuid={secrets.randbelow(10**12)}"

    def end_session(self, cookie_header: str) -> None:
        for part in cookie_header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "Session_id" and value in self.sessions:
                self.sessions[value].alive = False

    def expire_csrf(self) -> None:
        for session in self.sessions.values():
            session.csrf.clear()

    def add_published(self, publisher_id: str = DEFAULT_PUBLISHER, **stats: Any) -> str:
        """An already published video (for stats tests); its publication id."""
        video = DzenVideo(secrets.token_hex(12), publisher_id, "gif", finished=True, published=True, **stats)
        self.videos[video.publication_id] = video
        return video.publication_id

    def published_videos(self) -> list[DzenVideo]:
        return [v for v in self.videos.values() if v.published]

    def state(self) -> dict[str, Any]:
        return {
            "videos": [
                {"id": v.publication_id, "published": v.published, "size": v.size, "title": v.title}
                for v in self.videos.values()
            ]
        }

    def control(self, request: Request) -> Response:
        """`POST /_emulator/session {publisher_id, name}`: a signed-in studio session."""
        if request.method == "POST" and request.path == "/_emulator/session":
            spec = request.json()
            cookies = self.issue_session(
                spec.get("publisher_id", DEFAULT_PUBLISHER), spec.get("name", "Канал")
            )
            return Response.json({"cookies": cookies})
        return super().control(request)

    # -- routing --------------------------------------------------------------------------

    def route(self, request: Request) -> tuple[str, Callable[[Request], Response]] | None:
        path, method = request.path, request.method
        if path == "/media-api/csrf-token" and method == "GET":
            return "csrf-token", self._session_only(self._csrf_token)
        if path == "/profile/editor" and method == "GET":
            return "editor", self._editor_page
        if path.startswith("/editor-api/v3/publishers/") and method == "GET":
            return "publisher", self._guarded(self._publisher)
        if path == "/editor-api/v2/add-publication" and method == "POST":
            return "add-publication", self._guarded(self._add_publication)
        if path == "/media-api-video/start-upload-video" and method == "POST":
            return "start-upload-video", self._guarded(self._start_upload)
        if path == "/media-api-video/finish-upload-video" and method == "POST":
            return "finish-upload-video", self._guarded(self._finish_upload)
        if path.startswith("/editor-api/v2/publisher/") and "/publication/" in path and method == "GET":
            return "publication", self._guarded(self._publication)
        if path.startswith("/editor-api/v2/publisher/") and path.endswith("/stats2") and method == "GET":
            return "stats2", self._guarded(self._stats)
        if path == "/editor-api/v2/update-publication-content-and-publish" and method == "POST":
            return "publish", self._guarded(self._publish)
        if path.startswith("/tus/"):
            return f"tus-{method.lower()}", self._tus
        return None

    def fault_response(self, endpoint: str, fault: Fault) -> Response:
        if fault.kind == "captcha":
            return _errors(400, "captcha-required-error")
        if fault.kind == "rate_limit":
            return Response.json(
                {"errors": [{"type": "too-many-requests"}]}, 429, {"Retry-After": str(fault.retry_after)}
            )
        if fault.kind == "token_expired":
            return _errors(401, "auth-error")
        return Response.json({"errors": [{"type": "internal-error"}]}, 500)

    # -- the session and its CSRF token ---------------------------------------------------

    def _session(self, request: Request) -> Session | None:
        session = self.sessions.get(request.cookies().get("Session_id", ""))
        return session if session is not None and session.alive else None

    def _session_only(self, handler: Callable[[Request, Session], Response]) -> Callable[[Request], Response]:
        def check(request: Request) -> Response:
            session = self._session(request)
            if session is None:
                request.read()
                return _errors(401, "auth-error")
            return handler(request, session)

        return check

    def _guarded(self, handler: Callable[[Request, Session], Response]) -> Callable[[Request], Response]:
        """The studio API: a live session and a current CSRF token of that session."""

        def check(request: Request, session: Session) -> Response:
            token = request.headers.get("x-csrf-token", "")
            if session.csrf.get(token, 0) < time.time():
                request.read()
                self.record("csrf-refused")
                return _errors(403, "forbidden")
            if request.query.get("publisherId") not in (None, session.publisher_id):
                request.read()
                return _errors(403, "forbidden")
            return handler(request, session)

        return self._session_only(check)

    def _csrf_token(self, request: Request, session: Session) -> Response:
        token = f"{secrets.token_hex(20)}:{int(time.time() * 1000)}"
        session.csrf[token] = time.time() + self.csrf_ttl
        self.issued.append(token.split(":")[0])
        self.record("csrf-token")
        return Response.json({"result": token})

    def _editor_page(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return Response.redirect(
                "https://passport.yandex.ru/auth?retpath=https%3A%2F%2Fdzen.ru%2Fprofile%2Feditor"
            )
        return Response.redirect(f"{self.base_url}/profile/editor/id/{session.publisher_id}")

    def _publisher(self, request: Request, session: Session) -> Response:
        publisher_id = request.path.rstrip("/").rsplit("/", 1)[-1]
        if publisher_id != session.publisher_id:
            return _errors(404, "not-found")
        return Response.json(
            {
                "publisher": {
                    "id": session.publisher_id,
                    "name": session.name,
                    "nickname": {"raw": "channel"},
                    "regTime": 1700000000000,
                }
            }
        )

    # -- publishing -----------------------------------------------------------------------

    def _owned(self, session: Session, publication_id: str) -> DzenVideo | None:
        video = self.videos.get(publication_id)
        return video if video is not None and video.publisher_id == session.publisher_id else None

    def _add_publication(self, request: Request, session: Session) -> Response:
        body = request.json()
        kind = body.get("publicationType")
        if kind != "gif" or not isinstance((body.get("content") or {}).get("gifContent"), dict):
            return _errors(400, "validation-error")
        video = DzenVideo(secrets.token_hex(12), session.publisher_id, kind)
        self.videos[video.publication_id] = video
        self.record("add-publication", publication_id=video.publication_id, type=kind)
        return Response.json({"id": video.publication_id, "publisherId": session.publisher_id, "type": kind})

    def _start_upload(self, request: Request, session: Session) -> Response:
        body = request.json()
        video = self._owned(session, str(body.get("publicationId", "")))
        if video is None or not isinstance(body.get("fileSize"), int) or body["fileSize"] <= 0:
            return _errors(400, "validation-error")
        video.upload_id, video.length, video.offset = secrets.token_hex(12), body["fileSize"], 0
        video.digest = hashlib.sha256()
        self.uploads[video.upload_id] = video.publication_id
        self.record("start-upload-video", publication_id=video.publication_id)
        return Response.json(
            {"uploadUrl": f"{self.base_url}/tus/{video.upload_id}", "uploadId": video.upload_id}
        )

    def _tus(self, request: Request) -> Response:
        publication_id = self.uploads.get(request.path.rsplit("/", 1)[-1])
        video = self.videos.get(publication_id or "")
        headers = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}
        if video is None:
            return Response(404, b"", headers)
        if request.headers.get("tus-resumable") != TUS_VERSION:
            return Response(412, b"", {"Tus-Version": TUS_VERSION})
        if request.method == "HEAD":
            return Response(
                200, b"", {**headers, "Upload-Offset": str(video.offset), "Upload-Length": str(video.length)}
            )
        if request.method != "PATCH":
            return Response(405, b"", headers)
        if request.headers.get("content-type") != "application/offset+octet-stream":
            return Response(415, b"", headers)
        if int(request.headers.get("upload-offset", "-1")) != video.offset:
            return Response(409, b"", {**headers, "Upload-Offset": str(video.offset)})
        received = 0
        # Commit as bytes arrive: a cut connection keeps what came, as tus servers do.
        while data := request.body.read(CHUNK):
            with self._lock_state:
                video.digest.update(data)
                video.offset += len(data)
            received += len(data)
        self.record("tus-patch", bytes=received)
        return Response(204, b"", {**headers, "Upload-Offset": str(video.offset)})

    def _finish_upload(self, request: Request, session: Session) -> Response:
        body = request.json()
        video = self._owned(session, str(body.get("publicationId", "")))
        if video is None or video.offset != video.length or video.length == 0:
            return _errors(400, "upload-not-complete")
        video.finished, video.size, video.sha256 = True, video.offset, video.digest.hexdigest()
        video.pending_checks = self.processing_checks
        self.record("finish-upload-video", publication_id=video.publication_id)
        return Response.json({"status": "ok"})

    def _publication(self, request: Request, session: Session) -> Response:
        video = self._owned(session, request.path.rstrip("/").rsplit("/", 1)[-1])
        if video is None:
            return _errors(404, "not-found")
        with self._lock_state:
            if video.finished and video.pending_checks > 0:
                video.pending_checks -= 1
                converting = True
            else:
                converting = not video.finished
        content = {
            "videoId": video.upload_id,
            "isUploaded": video.finished,
            "isConverted": video.finished and not converting,
            "isFailed": False,
            "duration": 2,
            "size": video.size,
        }
        self.record("publication", publication_id=video.publication_id, converted=content["isConverted"])
        return Response.json(
            {
                "publications": [
                    {
                        "id": video.publication_id,
                        "content": {"type": video.publication_type, "gifContent": content},
                    }
                ]
            }
        )

    def _publish(self, request: Request, session: Session) -> Response:
        body = request.json()
        video = self._owned(session, str(body.get("id", "")))
        if video is None:
            return _errors(404, "not-found")
        if not video.converted:
            return _errors(400, "video-not-ready")
        preview = body.get("preview") or {}
        content = body.get("gifContent")
        if (
            not preview.get("title")
            or not isinstance(content, dict)
            or content.get("videoId") != video.upload_id
        ):
            return _errors(400, "validation-error")
        answer = self.take_fault("publish-answer")
        if answer is not None and answer.kind == "fp_required":
            return _errors(400, "illegal-argument-exception")
        if answer is not None:  # not_ok: an answer VIPilot would not count as published
            self.record("publish", publication_id=video.publication_id, result="IN_PROGRESS")
            return Response.json({"result": "IN_PROGRESS"})
        video.title, video.description, video.published = preview["title"], preview.get("snippet", ""), True
        self.record("publish", publication_id=video.publication_id, body=sorted(body))
        return Response.json({"result": "OK"})

    def _stats(self, request: Request, session: Session) -> Response:
        ids = request.query_all("publicationIds")
        fields = set(request.query_all("fields"))
        self.record("stats2", ids=len(ids))
        publications = []
        for publication_id in ids:
            video = self._owned(session, publication_id)
            if video is None or not video.published:
                continue
            figures = {
                "views": video.views,
                "likes": video.likes,
                "comments": video.comments,
                "shares": video.reposts,
            }
            publications.append(
                {
                    "publication": {"publicationId": publication_id},
                    "stats": {k: v for k, v in figures.items() if not fields or k in fields},
                }
            )
        return Response.json({"publications": publications, "actuality": int(time.time() * 1000)})


def _errors(status: int, kind: str) -> Response:
    return Response.json({"errors": [{"type": kind}]}, status)
