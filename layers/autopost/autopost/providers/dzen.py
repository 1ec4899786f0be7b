"""Дзен. No public publisher API exists (access needs manual publisher verification), so
this models Yandex OAuth (authorize, token exchange, refresh) plus provisional upload and
publish calls: base URLs and path templates are settings (README: "Дзен")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from autopost.errors import PlatformUnavailable, TokenExpired
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
from autopost.providers.oauth import CodeExchange
from autopost.settings import Settings

NAME = "Дзен"
STATS_BATCH = 100
DEFAULT_PATHS = {
    "create": "/publisher/v1/videos",
    "publish": "/publisher/v1/videos/{video_id}/publish",
    "stats": "/publisher/v1/videos/stats",
}


class DzenProvider:
    platform = Platform.DZEN
    # Our choice (no documented figure): as VK's, 10 minutes.
    upload_timeout_seconds = 600.0

    def __init__(
        self, settings: Settings, client_secret: SecretStr | None, http: httpx.Client | None = None
    ) -> None:
        self._api = settings.dzen_api_url.rstrip("/")
        self._oauth = settings.yandex_oauth_url.rstrip("/")
        self._login = settings.yandex_login_url.rstrip("/")
        self._client_id = settings.yandex_client_id
        self._client_secret = client_secret
        self._paths = {**DEFAULT_PATHS, **settings.dzen_paths}
        self._http = http or new_client()

    def _headers(self, credentials: Credentials) -> dict[str, str]:
        return {"Authorization": f"OAuth {credentials.access_token.get_secret_value()}"}

    def _request(self, method: str, url: str, credentials: Credentials, **kwargs: Any) -> Any:
        response = guarded(
            lambda: self._http.request(method, url, headers=self._headers(credentials), **kwargs), NAME
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
        if not state.get("video_id"):
            created = self._request(
                "POST",
                f"{self._api}{self._paths['create']}",
                credentials,
                json={"title": draft.title, "size": clip.size},
            )
            state = {"video_id": created["video_id"], "upload_url": created["upload_url"], "uploaded": False}
            save_checkpoint(dict(state))
        if not state.get("uploaded"):
            with clip.open(0) as source:
                body = stream_body(source, clip.size, deadline, "Загрузка в Дзен не уложилась в 10 минут")
                headers = {
                    **self._headers(credentials),
                    "Content-Type": clip.content_type,
                    "Content-Length": str(clip.size),
                }
                response = guarded(
                    lambda: self._http.put(state["upload_url"], content=body, headers=headers), NAME
                )
            raise_for_status(response, NAME)
            state["uploaded"] = True
            save_checkpoint(dict(state))
        published = self._request(
            "POST",
            f"{self._api}{self._paths['publish'].format(video_id=state['video_id'])}",
            credentials,
            json={"title": draft.title, "description": draft.description},
        )
        return UploadResult(
            post_id=str(published["id"]), url=published.get("url"), processing_state=published.get("status")
        )

    def fetch_stats(self, credentials: Credentials, post_ids: list[str]) -> dict[str, PostStats]:
        stats = {}
        for start in range(0, len(post_ids), STATS_BATCH):
            batch = post_ids[start : start + STATS_BATCH]
            found = self._request(
                "GET", f"{self._api}{self._paths['stats']}", credentials, params={"ids": ",".join(batch)}
            )
            for item in found.get("items", []):
                stats[str(item["id"])] = PostStats(
                    views=item.get("views"),
                    likes=item.get("likes"),
                    comments=item.get("comments"),
                    reposts=item.get("reposts"),
                )
        return stats

    def check(self, credentials: Credentials) -> Account:
        info = self._request("GET", f"{self._login}/info", credentials, params={"format": "json"})
        return Account(account_id=str(info["id"]), name=info.get("display_name") or info.get("login", ""))

    # -- Yandex OAuth ---------------------------------------------------------------------

    def authorize_url(self, state: str, challenge: str, redirect_uri: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self._oauth}/authorize?{urlencode(query)}"

    def exchange_code(self, exchange: CodeExchange) -> tuple[Credentials, Account]:
        tokens = self._token(
            {"grant_type": "authorization_code", "code": exchange.code, "code_verifier": exchange.verifier}
        )
        credentials = _credentials(tokens, None, "")
        account = self.check(credentials)
        return _credentials(tokens, None, account.account_id), account

    def refresh(self, credentials: Credentials) -> Credentials:
        if credentials.refresh_token is None:
            raise TokenExpired()
        tokens = self._token(
            {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token.get_secret_value()}
        )
        return _credentials(tokens, credentials.refresh_token, credentials.account_id)

    def _token(self, data: dict[str, str]) -> dict[str, Any]:
        secret = self._client_secret.get_secret_value() if self._client_secret else ""
        form = {**data, "client_id": self._client_id, "client_secret": secret}
        response = guarded(lambda: self._http.post(f"{self._oauth}/token", data=form), "Яндекс ID")
        if response.status_code >= 500:
            raise PlatformUnavailable("Яндекс ID временно недоступен")
        payload = json_of(response, "Яндекс ID")
        if "access_token" not in payload:
            raise TokenExpired()
        return payload


def _credentials(tokens: dict[str, Any], old_refresh: SecretStr | None, account_id: str) -> Credentials:
    refresh = tokens.get("refresh_token")
    return Credentials(
        access_token=SecretStr(tokens["access_token"]),
        refresh_token=SecretStr(refresh) if refresh else old_refresh,
        expires_at=datetime.now(UTC) + timedelta(seconds=int(tokens.get("expires_in", 3600))),
        account_id=account_id,
    )
