"""Rutube. Its API is undocumented and may change (README: "Rutube"); this module is the
only place that knows it. Public clients use `Authorization: Token …`, an upload session,
then tus 1.0.0 resumable uploads, and `GET /api/video/{id}/` (views in `hits`).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from autopost.errors import PlatformUnavailable, TokenExpired, UploadIncomplete
from autopost.platforms import Platform
from autopost.providers.base import (
    Account,
    ClipSource,
    Credentials,
    PostDraft,
    PostStats,
    SaveCheckpoint,
    UploadResult,
)
from autopost.providers.http import guarded, json_of, new_client, raise_for_status, stream_body
from autopost.settings import Settings

NAME = "Rutube"
TUS = {"Tus-Resumable": "1.0.0"}
PATCH_BYTES = 32 * 1024 * 1024
# Stop starting new chunks this close to the deadline: the rest goes in the next attempt.
DEADLINE_MARGIN = 60.0
STALLED_ATTEMPTS = 3


class RutubeProvider:
    platform = Platform.RUTUBE
    upload_timeout_seconds = 900.0

    def __init__(
        self, settings: Settings, http: httpx.Client | None = None, patch_bytes: int = PATCH_BYTES
    ) -> None:
        self._api = settings.rutube_api_url.rstrip("/")
        self._http = http or new_client()
        self._patch_bytes = patch_bytes

    def _headers(self, credentials: Credentials) -> dict[str, str]:
        return {"Authorization": f"Token {credentials.access_token.get_secret_value()}"}

    def _get(self, credentials: Credentials, path: str) -> Any:
        response = guarded(
            lambda: self._http.get(f"{self._api}{path}", headers=self._headers(credentials)), NAME
        )
        raise_for_status(response, NAME)
        return json_of(response, NAME)

    def upload(
        self,
        credentials: Credentials,
        clip: ClipSource,
        draft: PostDraft,
        checkpoint: dict[str, Any] | None,
        save_checkpoint: SaveCheckpoint,
        deadline: float | None = None,
    ) -> UploadResult:
        state = dict(checkpoint or {})
        offset = self._acknowledged(state) if state.get("tus_url") else None
        if offset is None:
            state = self._start(credentials, clip, draft)
            offset = 0
            save_checkpoint(dict(state))
        stalled = 0
        while offset < clip.size:
            if deadline is not None and time.monotonic() > deadline - DEADLINE_MARGIN:
                raise UploadIncomplete({**state, "offset": offset})
            try:
                offset = self._patch(state["tus_url"], clip, offset, deadline)
                stalled = 0
            except PlatformUnavailable:
                # The connection broke: ask the server what it kept and go on from there.
                acknowledged = self._acknowledged(state)
                if acknowledged is None:
                    raise
                stalled = 0 if acknowledged > offset else stalled + 1
                offset = acknowledged
                if stalled >= STALLED_ATTEMPTS:
                    raise
            state["offset"] = offset
            save_checkpoint(dict(state))
        video = self._get(credentials, f"/api/video/{state['video_id']}/")
        return UploadResult(
            post_id=state["video_id"], url=video.get("video_url"), processing_state=video.get("status")
        )

    def _start(self, credentials: Credentials, clip: ClipSource, draft: PostDraft) -> dict[str, Any]:
        session = guarded(
            lambda: self._http.post(
                f"{self._api}/api/video/upload/",
                json={"title": draft.title, "description": draft.description, "size": clip.size},
                headers=self._headers(credentials),
            ),
            NAME,
        )
        raise_for_status(session, NAME)
        created = json_of(session, NAME)
        response = guarded(
            lambda: self._http.post(created["upload_url"], headers={**TUS, "Upload-Length": str(clip.size)}),
            NAME,
        )
        raise_for_status(response, NAME)
        return {"video_id": created["video_id"], "tus_url": response.headers["location"], "offset": 0}

    def _acknowledged(self, state: dict[str, Any]) -> int | None:
        """The offset the server holds (tus HEAD), or None when the upload is gone."""
        response = guarded(lambda: self._http.head(state["tus_url"], headers=TUS), NAME)
        if response.status_code in (404, 410):
            return None
        raise_for_status(response, NAME)
        return int(response.headers["upload-offset"])

    def _patch(self, tus_url: str, clip: ClipSource, offset: int, deadline: float | None) -> int:
        length = min(self._patch_bytes, clip.size - offset)
        with clip.open(offset) as source:
            body = stream_body(source, length, deadline, "Загрузка в Rutube не уложилась в 15 минут")
            headers = {
                **TUS,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(length),
            }
            response = guarded(lambda: self._http.patch(tus_url, content=body, headers=headers), NAME)
        raise_for_status(response, NAME)
        return int(response.headers["upload-offset"])

    def refresh(self, credentials: Credentials) -> Credentials:
        raise TokenExpired()  # Rutube API tokens are not refreshed; the user connects again

    def fetch_stats(self, credentials: Credentials, post_ids: list[str]) -> dict[str, PostStats]:
        # No batch endpoint is known: one call a video (the stats job budgets for it).
        stats = {}
        for post_id in post_ids:
            video = self._get(credentials, f"/api/video/{post_id}/")
            stats[post_id] = PostStats(views=video.get("hits"))
        return stats

    def check(self, credentials: Credentials) -> Account:
        profile = self._get(credentials, "/api/profile/user/")
        return Account(account_id=str(profile["id"]), name=profile.get("name") or f"Rutube {profile['id']}")
