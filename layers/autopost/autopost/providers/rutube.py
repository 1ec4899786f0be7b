"""Rutube, as Rutube's own API client (rutube/php-api-client) calls it: a token from
`POST /api/accounts/token_auth/`, header `Authorization: Token …`, JSON bodies; a video is
created by **URL import** (`POST /api/video/ {url, title, …}`: Rutube fetches the file
itself, so no bytes pass through the worker), then read with `GET /api/video/{id}/`.

The API is undocumented and may change; this module is the only place that knows it. How an
import's progress shows (`is_deleted` with `action_reason.name` "downloading_video" while
Rutube fetches, "moderation" once accepted) is read from one public client
(crosspostly/fac, sync_production.py): low confidence, README "What rests on what".

An import whose answer was lost (the worker died between Rutube accepting it and our
checkpoint) is found again, not repeated: the checkpoint notes when an import began, and the
next attempt looks for a video of the same title created since then in the owner's list
(`GET /api/video/person/`, newest first). That the list shows a video still being fetched is
an assumption (README "What rests on what"); where it does not, the import is repeated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from pydantic import SecretStr

from autopost.domain.clock import from_iso, to_iso, utcnow
from autopost.domain.errors import PlatformUnavailable, Rejected, TokenExpired
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
from autopost.providers.http import guarded, json_of, new_client, raise_for_status

NAME = "Rutube"
CHECK_AFTER_SECONDS = 30.0
DOWNLOADING = "downloading_video"
# Rutube's timestamps (`created_ts`) are Moscow time without an offset; Moscow keeps UTC+3.
MOSCOW = timezone(timedelta(hours=3))
# How far apart our clock and Rutube's may be when matching a lost import to its video.
CLOCK_SLACK = timedelta(minutes=2)
ADOPT_PAGE = 20
# An import still starting reads as deleted with no reason for a while; crosspostly/fac waits
# 5 minutes before believing it (its log shows such a read within 10 s of the import).
STARTING_GRACE = timedelta(minutes=5)
# Reasons we have seen named; any other is shown as Rutube gave it.
_REASONS = {
    "moderation": "на модерации",
    "download_error": "Rutube не смог скачать файл клипа",
    "blocked": "видео заблокировано модерацией Rutube",
    "copyright": "видео нарушает авторские права (решение Rutube)",
}


class RutubeProvider:
    platform = Platform.RUTUBE
    # The seed's budget for a Rutube upload; an import call itself takes seconds.
    upload_timeout_seconds = 900.0

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self._api = settings.rutube_api_url.rstrip("/")
        self._http = http or new_client()
        self._url_seconds = settings.rutube_import_url_seconds
        self._category = settings.rutube_category_id

    def _headers(self, credentials: Credentials) -> dict[str, str]:
        return {
            "Authorization": f"Token {credentials.access_token.get_secret_value()}",
            "Accept": "application/json",
        }

    def _request(self, method: str, path: str, credentials: Credentials, **kwargs: Any) -> httpx.Response:
        return guarded(
            lambda: self._http.request(
                method, f"{self._api}{path}", headers=self._headers(credentials), **kwargs
            ),
            NAME,
        )

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
        if not state.get("video_id") and state.get("import_started"):
            found = self._imported_since(credentials, draft.title, from_iso(state["import_started"]))
            if found is not None:
                state = {"video_id": found, "import_started": state["import_started"]}
                save_checkpoint(dict(state))
        if not state.get("video_id"):
            if clip.share is None:
                raise PlatformUnavailable("Нет ссылки на файл клипа для Rutube")
            started = to_iso(utcnow())
            save_checkpoint({"import_started": started})
            response = self._request(
                "POST",
                "/api/video/",
                credentials,
                json={
                    "url": clip.share(self._url_seconds),
                    "title": draft.title,
                    "description": draft.description,
                    "is_hidden": False,
                    "category_id": self._category,
                },
            )
            if response.status_code == 400:
                raise Rejected(_field_errors(json_of(response, NAME)))
            raise_for_status(response, NAME)
            created = json_of(response, NAME)
            # Recorded before any waiting: a later attempt checks this video, never imports twice.
            state = {"video_id": str(created.get("video_id") or created["id"]), "import_started": started}
            save_checkpoint(dict(state))
        return self._status(credentials, state["video_id"], state.get("import_started"))

    def _imported_since(self, credentials: Credentials, title: str, since: datetime) -> str | None:
        """The video an earlier, interrupted import made: the same title, created since."""
        response = self._request(
            "GET", "/api/video/person/", credentials, params={"page": 1, "limit": ADOPT_PAGE}
        )
        raise_for_status(response, NAME)
        for video in json_of(response, NAME).get("results") or []:
            created = _moscow_time(video.get("created_ts"))
            if video.get("title") == title and created is not None and created >= since - CLOCK_SLACK:
                return str(video["id"])
        return None

    def _status(self, credentials: Credentials, video_id: str, import_started: str | None) -> PublishOutcome:
        response = self._request("GET", f"/api/video/{video_id}/", credentials)
        if response.status_code == 404:
            # Rutube answers 404 for a moment after an import is accepted.
            return Processing("Rutube принимает видео", CHECK_AFTER_SECONDS)
        raise_for_status(response, NAME)
        video = json_of(response, NAME)
        reason = str((video.get("action_reason") or {}).get("name") or "")
        if video.get("is_deleted"):
            if reason == DOWNLOADING:
                return Processing("Rutube скачивает файл клипа", CHECK_AFTER_SECONDS)
            if not reason and import_started and utcnow() - from_iso(import_started) < STARTING_GRACE:
                return Processing("Rutube начинает импорт", CHECK_AFTER_SECONDS)
            raise Rejected(f"Rutube отклонил видео: {_REASONS.get(reason, reason or 'причина не указана')}")
        return Published(
            post_id=video_id,
            url=video.get("video_url") or f"https://rutube.ru/video/{video_id}/",
            processing_state=reason or "ready",
        )

    # -- statistics, the account ----------------------------------------------------------

    def refresh(self, credentials: Credentials) -> Credentials:
        raise TokenExpired()  # Rutube tokens are not refreshed; the user connects again

    def fetch_stats(self, credentials: Credentials, post_ids: list[str]) -> dict[str, PostStats]:
        # No batch endpoint is known: one call a video (the stats job budgets for it).
        stats = {}
        for post_id in post_ids:
            response = self._request("GET", f"/api/video/{post_id}/", credentials)
            raise_for_status(response, NAME)
            stats[post_id] = PostStats(views=json_of(response, NAME).get("hits"))
        return stats

    def check(self, credentials: Credentials) -> Account:
        """A read-only call that needs the token: the account's own videos."""
        response = self._request("GET", "/api/video/person/", credentials, params={"page": 1, "limit": 1})
        raise_for_status(response, NAME)
        results = json_of(response, NAME).get("results") or []
        author = (results[0].get("author") or {}) if results else {}
        login = credentials.extra.get("login", "")
        account_id = str(author.get("id") or login or "rutube")
        return Account(account_id=account_id, name=str(author.get("name") or login or "Rutube"))

    def token_for(self, login: str, password: SecretStr) -> SecretStr:
        """Exchange a login and password once for an API token; the password is not kept."""
        response = guarded(
            lambda: self._http.post(
                f"{self._api}/api/accounts/token_auth/",
                json={"username": login, "password": password.get_secret_value()},
                headers={"Accept": "application/json"},
            ),
            NAME,
        )
        if response.status_code in (400, 401, 403):
            raise TokenExpired(
                "Rutube не принял логин и пароль. Вход по телефону или VK ID не подходит: "
                "задайте пароль в профиле Rutube или вставьте API-токен"
            )
        raise_for_status(response, NAME)
        token = json_of(response, NAME).get("token")
        if not token:
            raise PlatformUnavailable("Rutube не выдал токен, попробуйте позже")
        return SecretStr(str(token))


def _moscow_time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=MOSCOW)
    return moment.astimezone(UTC)


def _field_errors(body: Any) -> str:
    """Rutube's 400 names fields (Django REST framework style): `{"url": ["…"]}`."""
    if isinstance(body, dict) and body:
        parts = [
            f"{field}: {'; '.join(map(str, v)) if isinstance(v, list) else v}" for field, v in body.items()
        ]
        return f"Rutube отклонил видео ({', '.join(parts)})"
    return "Rutube отклонил видео"
