"""Дзен, through the studio's own web API with the author's session (cookies), a CSRF token
and the publisher id. There is no public publisher API and no OAuth publishing: this is
**not an official API and may break** (README, "Дзен").

The flow and its bodies are those of the last API version of the one public tool that
published video this way, LiberSynth/VIPilot (clients/dzen.py, cbb70387 to 527a93bd, the
same bodies since its first version 4943aff4; it then moved to driving the web UI):
`editor-api/v2/add-publication {"publicationType":"gif","content":{"gifContent":{}}}` →
`media-api-video/start-upload-video` (a tus upload URL) → tus `HEAD`/`PATCH` →
`media-api-video/finish-upload-video` → poll the publication until `gifContent.isConverted`
→ `editor-api/v2/update-publication-content-and-publish` with `gifContent` at the top level,
counted published only on `{"result": "OK"}` as VIPilot required. Whatever else comes back
(a captcha, the anti-bot `fp` other tools report the final call demanding, an unknown
answer) fails with «опубликуйте этот клип в студии Дзена вручную» and the reason.
VIPilot sends no description (`snippet: ""`) and cuts the title to 100 characters: so do we,
and the publication says so before it goes (`notices`). The CSRF
token comes from `GET /media-api/csrf-token` (vetalione/content_pipeline) and is fetched
again once when refused; statistics from `editor-api/v2/publisher/{id}/stats2`
(fromgate/ProzenExtension). VIPilot's `validate-video` step (the whole file, made
non-blocking there because it kept failing) is left out: our validator checked the clip.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from typing import Any

import httpx

from autopost.domain.captions import DZEN_TITLE_CHARACTERS
from autopost.domain.errors import (
    PlatformUnavailable,
    Rejected,
    TokenExpired,
    UploadIncomplete,
)
from autopost.domain.models import Account, Credentials
from autopost.domain.platforms import Platform
from autopost.infra.settings import Settings
from autopost.providers.base import (
    ClipSource,
    PostDraft,
    PostStats,
    Processing,
    Published,
    PublishOutcome,
    SaveCheckpoint,
)
from autopost.providers.http import guarded, json_of, new_client, raise_for_status, stream_body

NAME = "Дзен"
CLID = "320"  # what the studio's own requests carry
STATS_BATCH = 50
CHECK_AFTER_SECONDS = 20.0
TUS = {"Tus-Resumable": "1.0.0"}
PATCH_BYTES = 8 * 1024 * 1024
# Stop starting new chunks this close to the deadline: the rest goes in the next attempt.
DEADLINE_MARGIN = 60.0
STALLED_ATTEMPTS = 3
SESSION_REJECTED = "Токен истёк, переподключите платформу"
MANUAL = "опубликуйте этот клип в студии Дзена вручную"
# The publication's code for every such end: the console links the studio next to it.
MANUAL_CODE = "DZEN_PUBLISH_MANUALLY"
CAPTCHA = f"Дзен попросил подтвердить, что публикует человек (капча): {MANUAL}"
# What VIPilot copied from the polled gifContent into the final call, and what it fixed.
COPIED = (
    "videoId",
    "isUploaded",
    "isConverted",
    "isFailed",
    "duration",
    "hasSound",
    "size",
    "streams",
    "thumbnails",
    "isHighRes",
    "videoMetaId",
    "videoFileId",
    "oneVideoInfo",
)
FIXED: dict[str, Any] = {
    "autoPublish": False,
    "uploadOnVideoHosting": False,
    "migratedFromEfir": False,
    "uploadFromYoutube": False,
    "uploadFromCms": False,
    "isInvisible": False,
    "parallelsUploadUrls": [],
    "mentions": [],
    "episodes": [],
    "externalVideoDuplicates": [],
    "externalVideoDuplicatesV2": [],
}


class _CsrfRefused(Exception):
    """403 with our CSRF token: fetch a new one and try once more."""


class DzenProvider:
    platform = Platform.DZEN
    # Our choice (no documented figure): as VK's, 10 minutes; longer uploads resume.
    upload_timeout_seconds = 600.0

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self._api = settings.dzen_api_url.rstrip("/")
        self._http = http or new_client()
        self._csrf: dict[str, str] = {}  # per session (a digest of it), for this environment
        self._lock = threading.Lock()

    # -- the session ----------------------------------------------------------------------

    def _base_headers(self, credentials: Credentials) -> dict[str, str]:
        publisher = credentials.extra.get("publisher_id", "")
        return {
            "Cookie": credentials.access_token.get_secret_value(),
            "Accept": "application/json",
            "Origin": self._api,
            "Referer": f"{self._api}/profile/editor/id/{publisher}" if publisher else f"{self._api}/",
        }

    def _session_key(self, credentials: Credentials) -> str:
        return hashlib.sha256(credentials.access_token.get_secret_value().encode()).hexdigest()

    def _csrf_token(self, credentials: Credentials, fresh: bool = False) -> str:
        key = self._session_key(credentials)
        with self._lock:
            if not fresh and key in self._csrf:
                return self._csrf[key]
        response = guarded(
            lambda: self._http.get(
                f"{self._api}/media-api/csrf-token", headers=self._base_headers(credentials)
            ),
            NAME,
        )
        _raise_for_session(response)
        raise_for_status(response, NAME)
        token = str(json_of(response, NAME).get("result") or "")
        if not token:
            raise TokenExpired(SESSION_REJECTED)
        with self._lock:
            self._csrf[key] = token
        return token

    def _call(self, method: str, path: str, credentials: Credentials, **kwargs: Any) -> Any:
        """A studio API call with the CSRF token; a refused token is fetched again once."""
        params = {
            "publisherId": credentials.extra.get("publisher_id", ""),
            "clid": CLID,
            **kwargs.pop("params", {}),
        }
        for fresh in (False, True):
            headers = {
                **self._base_headers(credentials),
                "X-Csrf-Token": self._csrf_token(credentials, fresh),
            }
            response = guarded(
                functools.partial(
                    self._http.request, method, f"{self._api}{path}", headers=headers, params=params, **kwargs
                ),
                NAME,
            )
            try:
                return _answer(response)
            except _CsrfRefused:
                continue
        raise TokenExpired(SESSION_REJECTED)

    # -- publishing -----------------------------------------------------------------------

    def publish(
        self,
        credentials: Credentials,
        clip: ClipSource,
        draft: PostDraft,
        checkpoint: dict[str, Any] | None,
        save_checkpoint: SaveCheckpoint,
        deadline: float | None = None,
    ) -> PublishOutcome:
        state = dict(checkpoint or {})
        publisher = credentials.extra.get("publisher_id", "")
        if not state.get("publication_id"):
            created = self._call(
                "POST",
                "/editor-api/v2/add-publication",
                credentials,
                json={"publicationType": "gif", "content": {"gifContent": {}}},
            )
            first = (created.get("publications") or [created])[0] if isinstance(created, dict) else {}
            state = {"publication_id": str(first["id"])}
            save_checkpoint(dict(state))
        publication_id = state["publication_id"]
        if not state.get("upload_url"):
            started = self._call(
                "POST",
                "/media-api-video/start-upload-video",
                credentials,
                json={
                    "publicationId": publication_id,
                    "fileName": clip.filename,
                    "fileSize": clip.size,
                    "mimeType": clip.content_type,
                },
            )
            state.update(upload_url=started["uploadUrl"], upload_id=started.get("uploadId"), offset=0)
            save_checkpoint(dict(state))
        if not state.get("uploaded"):
            self._upload(clip, state, save_checkpoint, deadline)
            finish = {"publicationId": publication_id}
            if state.get("upload_id"):
                finish["uploadId"] = state["upload_id"]
            self._call("POST", "/media-api-video/finish-upload-video", credentials, json=finish)
            state["uploaded"] = True
            save_checkpoint(dict(state))
        found = self._call(
            "GET", f"/editor-api/v2/publisher/{publisher}/publication/{publication_id}", credentials
        )
        content = _video_content(found)
        if content.get("isFailed"):
            raise Rejected("Дзен не смог обработать видео")
        if not content.get("isConverted"):
            return Processing("Дзен обрабатывает видео", CHECK_AFTER_SECONDS)
        answer = self._call(
            "POST",
            "/editor-api/v2/update-publication-content-and-publish",
            credentials,
            json=publish_body(publication_id, draft.title, content),
        )
        if not isinstance(answer, dict) or answer.get("result") != "OK":
            shown = str(answer.get("result") if isinstance(answer, dict) else answer)[:60]
            raise Rejected(f"Дзен не подтвердил публикацию (ответ «{shown}»): {MANUAL}", code=MANUAL_CODE)
        return Published(
            post_id=publication_id,
            url=f"{self._api}/video/watch/{publication_id}",
            processing_state="published",
        )

    def _upload(
        self, clip: ClipSource, state: dict[str, Any], save: SaveCheckpoint, deadline: float | None
    ) -> None:
        """tus 1.0.0 to the upload URL (the CDN's, presigned: no cookies), resuming from the
        offset the server acknowledges."""
        offset = self._acknowledged(state["upload_url"]) if state.get("offset") else 0
        started_at, stalled = offset, 0
        while offset < clip.size:
            # Each attempt sends at least one chunk: a next attempt always starts further on.
            if offset > started_at and deadline is not None and time.monotonic() > deadline - DEADLINE_MARGIN:
                raise UploadIncomplete({**state, "offset": offset})
            try:
                offset = self._patch(state["upload_url"], clip, offset, deadline)
                stalled = 0
            except PlatformUnavailable:
                # The connection broke: ask the server what it kept and go on from there.
                acknowledged = self._acknowledged(state["upload_url"])
                stalled = 0 if acknowledged > offset else stalled + 1
                offset = acknowledged
                if stalled >= STALLED_ATTEMPTS:
                    raise
            state["offset"] = offset
            save(dict(state))

    def _acknowledged(self, upload_url: str) -> int:
        response = guarded(lambda: self._http.head(upload_url, headers=TUS), NAME)
        if response.status_code in (404, 410):
            raise PlatformUnavailable("Дзен потерял загрузку, начнём заново")
        raise_for_status(response, NAME)
        return int(response.headers["upload-offset"])

    def _patch(self, upload_url: str, clip: ClipSource, offset: int, deadline: float | None) -> int:
        length = min(PATCH_BYTES, clip.size - offset)
        with clip.open(offset) as source:
            body = stream_body(source, length, deadline, "Загрузка в Дзен не уложилась в 10 минут")
            headers = {
                **TUS,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(length),
            }
            response = guarded(lambda: self._http.patch(upload_url, content=body, headers=headers), NAME)
        raise_for_status(response, NAME)
        return int(response.headers["upload-offset"])

    # -- statistics, the account ----------------------------------------------------------

    def refresh(self, credentials: Credentials) -> Credentials:
        raise TokenExpired(SESSION_REJECTED)  # a session is not refreshed: the user pastes a new one

    def fetch_stats(self, credentials: Credentials, post_ids: list[str]) -> dict[str, PostStats]:
        publisher = credentials.extra.get("publisher_id", "")
        stats: dict[str, PostStats] = {}
        for start in range(0, len(post_ids), STATS_BATCH):
            batch = post_ids[start : start + STATS_BATCH]
            found = self._call(
                "GET",
                f"/editor-api/v2/publisher/{publisher}/stats2",
                credentials,
                params={"publicationIds": batch, "fields": ["views", "likes", "comments", "shares"]},
            )
            for entry in found.get("publications", []):
                figures = entry.get("stats") or {}
                stats[str(entry["publication"]["publicationId"])] = PostStats(
                    views=figures.get("views"),
                    likes=figures.get("likes"),
                    comments=figures.get("comments"),
                    reposts=figures.get("shares"),
                )
        return stats

    def check(self, credentials: Credentials) -> Account:
        """The session works (a CSRF token is issued) and names a publisher we can read."""
        publisher = credentials.extra.get("publisher_id") or self._find_publisher(credentials)
        scoped = Credentials(credentials.access_token, extra={**credentials.extra, "publisher_id": publisher})
        found = self._call("GET", f"/editor-api/v3/publishers/{publisher}", scoped)
        about = found.get("publisher") or {}
        return Account(
            account_id=publisher,
            name=str(about.get("name") or f"Дзен {publisher}"),
            extra={"publisher_id": publisher},
        )

    def _find_publisher(self, credentials: Credentials) -> str:
        """The studio redirects `/profile/editor` to `/profile/editor/id/{publisher id}`."""
        response = guarded(
            lambda: self._http.get(f"{self._api}/profile/editor", headers=self._base_headers(credentials)),
            NAME,
        )
        _raise_for_session(response)
        location = response.headers.get("location", "")
        marker = "/profile/editor/id/"
        if response.status_code in (301, 302, 303, 307) and marker in location:
            return location.split(marker, 1)[1].split("/")[0].split("?")[0]
        raise Rejected("Не удалось найти канал Дзена этого входа: укажите id издателя")


def _raise_for_session(response: httpx.Response) -> None:
    """A dead session: a redirect to Яндекс ID's login, or 401."""
    location = response.headers.get("location", "")
    if response.status_code == 401 or (response.is_redirect and "passport" in location):
        raise TokenExpired(SESSION_REJECTED)


def _answer(response: httpx.Response) -> Any:
    _raise_for_session(response)
    if response.status_code in (400, 403):
        body = json_of(response, NAME) if response.content else {}
        kinds = (
            {str(e.get("type")) for e in body.get("errors", []) if isinstance(e, dict)}
            if isinstance(body, dict)
            else set()
        )
        if "captcha-required-error" in kinds:
            raise Rejected(CAPTCHA, code=MANUAL_CODE)
        if "illegal-argument-exception" in kinds:
            # What tools report when the final call wants the studio page's anti-bot `fp`.
            raise Rejected(
                f"Дзен потребовал подпись браузера (fp), которой у сервиса нет: {MANUAL}", code=MANUAL_CODE
            )
        if response.status_code == 403:
            if "auth-error" in kinds:
                raise TokenExpired(SESSION_REJECTED)
            raise _CsrfRefused()
        raise Rejected(
            f"Дзен отклонил запрос ({', '.join(sorted(kinds)) or 'HTTP 400'}): {MANUAL}", code=MANUAL_CODE
        )
    raise_for_status(response, NAME)
    return json_of(response, NAME)


def publish_body(publication_id: str, title: str, content: dict[str, Any]) -> dict[str, Any]:
    """The final call's body, field for field as VIPilot sent it (clients/dzen.py, cbb70387)."""
    return {
        "id": publication_id,
        "preview": {"title": title[:DZEN_TITLE_CHARACTERS], "snippet": ""},
        "snippetFrozen": False,
        "hasNativeAds": False,
        "commentsFlagState": "on",
        "delayedPublicationFlagState": "off",
        "visibleComments": "all",
        "visibilityType": "all",
        "premiumTariffs": [],
        "customCommentsTitle": "",
        "gifMentions": [],
        "tagsInput": {"tags": [], "detectedTagsShown": False},
        "darkPost": False,
        "gifContent": {**{k: content[k] for k in COPIED if k in content}, **FIXED},
    }


def _video_content(found: Any) -> dict[str, Any]:
    publications = found.get("publications") if isinstance(found, dict) else None
    item = publications[0] if publications else found
    content = (item or {}).get("content") or {}
    value = content.get("gifContent")
    if not isinstance(value, dict):
        raise PlatformUnavailable("Дзен ответил непонятно, попробуйте позже")
    return value
