"""Дзен: Yandex OAuth (authorize, token, user info) and a publisher API for videos.

There is no public Дзен publisher API (access needs manual publisher verification), so
the publisher endpoints here are provisional: the same forms the Дзен provider uses, both
configurable (see README). One server plays oauth.yandex.ru, login.yandex.ru and Дзен.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from emulators.http import CHUNK, Emulator, Fault, Request, Response
from emulators.oauth import Grant, consent_page, new_code, redeem

DEFAULT_USER = 77001


@dataclass
class DzenVideo:
    video_id: str
    user_id: int
    title: str = ""
    description: str = ""
    size: int = 0
    sha256: str = ""
    uploaded: bool = False
    published: bool = False
    views: int = 0
    likes: int = 0
    comments: int = 0
    reposts: int = 0


class DzenEmulator(Emulator):
    name = "dzen"

    def __init__(self, client_id: str = "dzen-client", client_secret: str = "dzen-secret") -> None:  # noqa: S107
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.reset_state()

    def reset_state(self) -> None:
        self.tokens: dict[str, tuple[int, float]] = {}
        self.refresh_tokens: dict[str, int] = {}
        self.grants: dict[str, Grant] = {}
        self.videos: dict[str, DzenVideo] = {}

    def issue_token(self, user_id: int = DEFAULT_USER, lifetime: float = 3600) -> tuple[str, str]:
        access, refresh = "y0_" + secrets.token_urlsafe(30), "1:" + secrets.token_urlsafe(30)
        self.tokens[access] = (user_id, time.time() + lifetime)
        self.refresh_tokens[refresh] = user_id
        return access, refresh

    def state(self) -> dict[str, Any]:
        return {
            "videos": [
                {"id": v.video_id, "published": v.published, "size": v.size} for v in self.videos.values()
            ]
        }

    def route(self, request: Request) -> tuple[str, Callable[[Request], Response]] | None:
        path, method = request.path, request.method
        if path == "/authorize":
            return "authorize", lambda r: consent_page("Яндекс ID", r, "/authorize/approve")
        if path == "/authorize/approve":
            return "authorize", self._approve
        if path == "/token" and method == "POST":
            return "token", self._token
        if path == "/info":
            return "info", self._authorized(self._info)
        if path == "/publisher/v1/videos" and method == "POST":
            return "create", self._authorized(self._create)
        if path.startswith("/upload/") and method == "PUT":
            return "upload", self._authorized(self._upload)
        if path.startswith("/publisher/v1/videos/") and path.endswith("/publish") and method == "POST":
            return "publish", self._authorized(self._publish)
        if path == "/publisher/v1/videos/stats" and method == "GET":
            return "stats", self._authorized(self._stats)
        return None

    def fault_response(self, endpoint: str, fault: Fault) -> Response:
        if endpoint == "token":
            return Response.json({"error": "invalid_grant", "error_description": "Token expired"}, 400)
        if fault.kind == "rate_limit":
            return Response.json(
                {"error": {"code": "too_many_requests", "message": "Rate limit"}},
                429,
                {"Retry-After": str(fault.retry_after)},
            )
        if fault.kind == "token_expired":
            return Response.json({"error": {"code": "unauthorized", "message": "Token expired"}}, 401)
        return Response.json({"error": {"code": "internal", "message": "Internal error"}}, 500)

    def _authorized(self, handler: Callable[[Request, int], Response]) -> Callable[[Request], Response]:
        def check(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            found = self.tokens.get(header.removeprefix("OAuth ")) if header.startswith("OAuth ") else None
            if found is None or found[1] < time.time():
                request.read()
                return Response.json({"error": {"code": "unauthorized", "message": "Invalid token"}}, 401)
            return handler(request, found[0])

        return check

    def _approve(self, request: Request) -> Response:
        target = request.query.get("redirect_uri", "")
        if request.query.get("deny"):
            return Response.redirect(
                f"{target}?{urlencode({'error': 'access_denied', 'state': request.query.get('state', '')})}"
            )
        code = new_code(self.grants, request, int(request.query.get("user_id", DEFAULT_USER)))
        return Response.redirect(
            f"{target}?{urlencode({'code': code, 'state': request.query.get('state', '')})}"
        )

    def _token(self, request: Request) -> Response:
        form = request.form()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Response.json({"error": "invalid_client", "error_description": "Client not found"}, 400)
        if form.get("grant_type") == "authorization_code":
            grant = redeem(
                self.grants, form.get("code", ""), form.get("client_id", ""), None, form.get("code_verifier")
            )
            if isinstance(grant, str):
                return Response.json({"error": "invalid_grant", "error_description": grant}, 400)
            user_id = grant.user_id
        elif form.get("grant_type") == "refresh_token":
            found = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if found is None:
                return Response.json(
                    {"error": "invalid_grant", "error_description": "Refresh token expired"}, 400
                )
            user_id = found
        else:
            return Response.json({"error": "unsupported_grant_type"}, 400)
        access, refresh = self.issue_token(user_id)
        self.record("token", grant_type=form.get("grant_type"))
        return Response.json(
            {"token_type": "bearer", "access_token": access, "expires_in": 31536000, "refresh_token": refresh}
        )

    def _info(self, request: Request, user_id: int) -> Response:
        return Response.json(
            {"id": str(user_id), "login": f"user{user_id}", "display_name": f"Автор {user_id}"}
        )

    def _create(self, request: Request, user_id: int) -> Response:
        body = request.json()
        video = DzenVideo(secrets.token_hex(12), user_id, title=body.get("title", ""))
        self.videos[video.video_id] = video
        self.record("create", video_id=video.video_id)
        return Response.json(
            {"video_id": video.video_id, "upload_url": f"{self.base_url}/upload/{video.video_id}"}, 201
        )

    def _upload(self, request: Request, user_id: int) -> Response:
        video = self.videos.get(request.path.rsplit("/", 1)[-1])
        if video is None or video.user_id != user_id:
            return Response.json({"error": {"code": "not_found", "message": "Video not found"}}, 404)
        digest, size = hashlib.sha256(), 0
        while data := request.body.read(CHUNK):
            digest.update(data)
            size += len(data)
        video.uploaded, video.size, video.sha256 = True, size, digest.hexdigest()
        self.record("upload", bytes=size)
        return Response.json({"status": "uploaded", "size": size})

    def _publish(self, request: Request, user_id: int) -> Response:
        video = self.videos.get(request.path.split("/")[-2])
        body = request.json()
        if video is None or video.user_id != user_id:
            return Response.json({"error": {"code": "not_found", "message": "Video not found"}}, 404)
        if not video.uploaded:
            return Response.json(
                {"error": {"code": "bad_request", "message": "Video file is not uploaded"}}, 400
            )
        video.title, video.description, video.published = (
            body.get("title", video.title),
            body.get("description", ""),
            True,
        )
        self.record("publish", video_id=video.video_id)
        return Response.json(
            {
                "id": video.video_id,
                "url": f"https://dzen.ru/video/watch/{video.video_id}",
                "status": "published",
            }
        )

    def _stats(self, request: Request, user_id: int) -> Response:
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        self.record("stats", ids=len(ids))
        items = [
            {
                "id": v.video_id,
                "views": v.views,
                "likes": v.likes,
                "comments": v.comments,
                "reposts": v.reposts,
            }
            for i in ids
            if (v := self.videos.get(i)) is not None and v.user_id == user_id and v.published
        ]
        return Response.json({"items": items})
