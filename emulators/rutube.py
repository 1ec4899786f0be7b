"""Rutube, as public clients use it (the API is undocumented; see README): token auth,
an upload session, then the tus 1.0.0 resumable protocol, and `GET /api/video/{id}/`."""

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


@dataclass
class Upload:
    upload_id: str
    video_id: str
    length: int
    offset: int = 0
    digest: Any = field(default_factory=hashlib.sha256)


@dataclass
class RutubeVideo:
    video_id: str
    user_id: int
    title: str
    description: str
    complete: bool = False
    size: int = 0
    sha256: str = ""
    hits: int = 0
    created_ts: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))


class RutubeEmulator(Emulator):
    name = "rutube"

    def __init__(self) -> None:
        super().__init__()
        self.reset_state()

    def reset_state(self) -> None:
        self.tokens: dict[str, int] = {}
        self.videos: dict[str, RutubeVideo] = {}
        self.uploads: dict[str, Upload] = {}
        self.sessions: dict[str, str] = {}  # session id -> video id
        self._lock_state = threading.Lock()

    def issue_token(self, user_id: int = 501) -> str:
        token = secrets.token_hex(20)
        self.tokens[token] = user_id
        return token

    def state(self) -> dict[str, Any]:
        return {
            "videos": [
                {"id": v.video_id, "complete": v.complete, "size": v.size, "title": v.title}
                for v in self.videos.values()
            ]
        }

    def route(self, request: Request) -> tuple[str, Callable[[Request], Response]] | None:
        path = request.path
        if path == "/api/profile/user/":
            return "profile", self._authorized(self._profile)
        if path == "/api/video/upload/" and request.method == "POST":
            return "upload-session", self._authorized(self._session)
        if path.startswith("/api/video/") and request.method == "GET":
            return "video", self._authorized(self._video)
        if path.startswith("/tus/session/") and request.method == "POST":
            return "tus-create", self._tus_create
        if path.startswith("/tus/files/"):
            return f"tus-{request.method.lower()}", self._tus_file
        return None

    def fault_response(self, endpoint: str, fault: Fault) -> Response:
        if fault.kind == "rate_limit":
            return Response.json(
                {"detail": f"Request was throttled. Expected available in {fault.retry_after} seconds."},
                429,
                {"Retry-After": str(fault.retry_after)},
            )
        if fault.kind == "token_expired":
            return Response.json({"detail": "Invalid token."}, 401)
        return Response.json({"detail": "Internal server error"}, 500)

    def _authorized(self, handler: Callable[[Request, int], Response]) -> Callable[[Request], Response]:
        def check(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            user_id = self.tokens.get(header.removeprefix("Token ")) if header.startswith("Token ") else None
            if user_id is None:
                request.read()
                return Response.json({"detail": "Invalid token."}, 401)
            return handler(request, user_id)

        return check

    def _profile(self, request: Request, user_id: int) -> Response:
        self.record("profile")
        return Response.json({"id": user_id, "name": f"Канал {user_id}"})

    def _session(self, request: Request, user_id: int) -> Response:
        body = request.json()
        video_id = secrets.token_hex(16)
        session = secrets.token_hex(8)
        self.videos[video_id] = RutubeVideo(
            video_id, user_id, body.get("title", ""), body.get("description", "")
        )
        self.sessions[session] = video_id
        self.record("upload-session", video_id=video_id)
        return Response.json(
            {"video_id": video_id, "upload_url": f"{self.base_url}/tus/session/{session}"}, 201
        )

    def _video(self, request: Request, user_id: int) -> Response:
        video_id = request.path.removeprefix("/api/video/").strip("/")
        video = self.videos.get(video_id)
        self.record("video", video_id=video_id)
        if video is None or video.user_id != user_id:
            return Response.json({"detail": "Not found."}, 404)
        return Response.json(
            {
                "id": video.video_id,
                "title": video.title,
                "description": video.description,
                "hits": video.hits,
                "is_deleted": False,
                "created_ts": video.created_ts,
                "video_url": f"https://rutube.ru/video/{video.video_id}/",
                "status": "ready" if video.complete else "uploading",
            }
        )

    def _tus_create(self, request: Request) -> Response:
        if request.headers.get("tus-resumable") != TUS_VERSION:
            return Response(412, b"", {"Tus-Version": TUS_VERSION})
        video_id = self.sessions.get(request.path.rsplit("/", 1)[-1])
        if video_id is None:
            return Response(404, b"")
        upload = Upload(secrets.token_hex(12), video_id, int(request.headers.get("upload-length", "0")))
        self.uploads[upload.upload_id] = upload
        self.record("tus-create", length=upload.length)
        return Response(
            201,
            b"",
            {"Location": f"{self.base_url}/tus/files/{upload.upload_id}", "Tus-Resumable": TUS_VERSION},
        )

    def _tus_file(self, request: Request) -> Response:
        upload = self.uploads.get(request.path.rsplit("/", 1)[-1])
        headers = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}
        if upload is None:
            return Response(404, b"", headers)
        if request.headers.get("tus-resumable") != TUS_VERSION:
            return Response(412, b"", {"Tus-Version": TUS_VERSION})
        if request.method == "HEAD":
            return Response(
                200,
                b"",
                {**headers, "Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length)},
            )
        if request.method != "PATCH":
            return Response(405, b"", headers)
        if request.headers.get("content-type") != "application/offset+octet-stream":
            return Response(415, b"", headers)
        if int(request.headers.get("upload-offset", "-1")) != upload.offset:
            return Response(409, b"", {**headers, "Upload-Offset": str(upload.offset)})
        received = 0
        # Commit as bytes arrive: a cut connection keeps what came, as tus servers do.
        while data := request.body.read(CHUNK):
            with self._lock_state:
                upload.digest.update(data)
                upload.offset += len(data)
            received += len(data)
        self.record("tus-patch", bytes=received)
        if upload.offset >= upload.length:
            video = self.videos[upload.video_id]
            video.complete, video.size, video.sha256 = True, upload.offset, upload.digest.hexdigest()
        return Response(204, b"", {**headers, "Upload-Offset": str(upload.offset)})
