"""VK: clips through video.save + the upload server, stats through video.get, VK ID OAuth 2.1.

Errors come as HTTP 200 `{"error": {"error_code": N}}` (../shared/reference/vk-api-schema).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from autopost.errors import PlatformRateLimited, PlatformUnavailable, Rejected, TokenExpired
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
from autopost.providers.http import guarded, json_of, multipart, new_client
from autopost.providers.oauth import CodeExchange
from autopost.settings import Settings

API_VERSION = "5.199"
NAME = "VK"
# Publishing as VK Clips rests on `is_short=1` in video.save, which the official 5.199
# schema does not list (public clip uploaders use the undocumented shortVideo.* methods).
# This is the one place that choice lives; README: "VK Clips".
CLIP_PARAMETERS = {"is_short": "1"}
STATS_BATCH = 200  # video.get takes up to 200 videos a call
SCOPE = "video"

_RATE_LIMIT_WAIT = {6: 1.0, 9: 60.0, 29: 3600.0}  # too many per second, flood control, daily limit


class VkProvider:
    platform = Platform.VK
    upload_timeout_seconds = 600.0

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client | None = None,
        throttle: Callable[[Credentials], None] | None = None,
    ) -> None:
        self._throttle = throttle
        self._api = settings.vk_api_url.rstrip("/")
        self._id = settings.vk_id_url.rstrip("/")
        self._client_id = settings.vk_client_id
        self._http = http or new_client()

    # -- API calls ------------------------------------------------------------------------

    def call(self, method: str, credentials: Credentials, **params: Any) -> Any:
        if self._throttle is not None:
            self._throttle(credentials)
        # The token goes in the POST body, never in a URL that could be logged.
        data = {**params, "access_token": credentials.access_token.get_secret_value(), "v": API_VERSION}
        response = guarded(lambda: self._http.post(f"{self._api}/method/{method}", data=data), NAME)
        if response.status_code >= 500:
            raise PlatformUnavailable("VK временно недоступен")
        payload = json_of(response, NAME)
        if "error" in payload:
            raise _error(payload["error"])
        return payload["response"]

    def upload(
        self,
        credentials: Credentials,
        clip: ClipSource,
        draft: PostDraft,
        checkpoint: dict[str, Any] | None,
        save_checkpoint: SaveCheckpoint,
        deadline: float | None = None,
    ) -> UploadResult:
        if checkpoint and checkpoint.get("video_id"):
            owner_id, video_id = int(checkpoint["owner_id"]), int(checkpoint["video_id"])
            # A former attempt created this video: if VK has its file, it is the post.
            if self._find(credentials, owner_id, video_id) is not None:
                return _result(owner_id, video_id)
            if self._send_file(checkpoint["upload_url"], clip, deadline, missing_ok=True):
                return _result(owner_id, video_id)
        saved = self.call(
            "video.save",
            credentials,
            name=draft.title,
            description=draft.description,
            wallpost="0",
            **CLIP_PARAMETERS,
        )
        owner_id, video_id = int(saved["owner_id"]), int(saved["video_id"])
        save_checkpoint({"owner_id": owner_id, "video_id": video_id, "upload_url": saved["upload_url"]})
        self._send_file(saved["upload_url"], clip, deadline, missing_ok=False)
        return _result(owner_id, video_id)

    def _send_file(self, upload_url: str, clip: ClipSource, deadline: float | None, missing_ok: bool) -> bool:
        """Upload to VK's upload server; False when the URL is no longer valid (missing_ok)."""
        with clip.open(0) as source:
            headers, body = multipart(
                {},
                "video_file",
                clip.filename,
                clip.content_type,
                source,
                clip.size,
                deadline,
                "Загрузка в VK не уложилась в 10 минут",
            )
            response = guarded(lambda: self._http.post(upload_url, content=body, headers=headers), NAME)
        if response.status_code >= 500:
            raise PlatformUnavailable("Сервер загрузки VK недоступен")
        payload = json_of(response, NAME)
        if "error" in payload:
            if missing_ok:
                return False
            raise PlatformUnavailable("VK не принял файл, попробуем ещё раз")
        return True

    def _find(self, credentials: Credentials, owner_id: int, video_id: int) -> dict[str, Any] | None:
        found = self.call("video.get", credentials, videos=f"{owner_id}_{video_id}", count=1)
        return next(iter(found.get("items", [])), None)

    def fetch_stats(self, credentials: Credentials, post_ids: list[str]) -> dict[str, PostStats]:
        stats: dict[str, PostStats] = {}
        for start in range(0, len(post_ids), STATS_BATCH):
            batch = post_ids[start : start + STATS_BATCH]
            found = self.call("video.get", credentials, videos=",".join(batch), count=len(batch))
            for item in found.get("items", []):
                stats[f"{item['owner_id']}_{item['id']}"] = PostStats(
                    views=item.get("views"),
                    likes=(item.get("likes") or {}).get("count"),
                    comments=item.get("comments"),
                    reposts=(item.get("reposts") or {}).get("count"),
                )
        return stats

    def check(self, credentials: Credentials) -> Account:
        self.call("video.get", credentials, owner_id=credentials.account_id, count=1)
        return Account(
            account_id=credentials.account_id, name=f"VK id{credentials.account_id}", extra=credentials.extra
        )

    # -- VK ID OAuth 2.1 --------------------------------------------------------------------

    def authorize_url(self, state: str, challenge: str, redirect_uri: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": SCOPE,
        }
        return f"{self._id}/authorize?{urlencode(query)}"

    def exchange_code(self, exchange: CodeExchange) -> tuple[Credentials, Account]:
        if not exchange.device_id:
            raise Rejected("VK ID не передал device_id")
        tokens = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": exchange.code,
                "code_verifier": exchange.verifier,
                "redirect_uri": exchange.redirect_uri,
                "client_id": self._client_id,
                "device_id": exchange.device_id,
                "state": secrets.token_urlsafe(16),
            }
        )
        user_id = str(tokens["user_id"])
        credentials = _credentials(tokens, None, user_id, {"device_id": exchange.device_id})
        return credentials, Account(
            account_id=user_id, name=f"VK id{user_id}", extra={"device_id": exchange.device_id}
        )

    def refresh(self, credentials: Credentials) -> Credentials:
        if credentials.refresh_token is None:
            raise TokenExpired()
        tokens = self._token_request(
            {
                "grant_type": "refresh_token",
                "refresh_token": credentials.refresh_token.get_secret_value(),
                "client_id": self._client_id,
                "device_id": credentials.extra.get("device_id", ""),
                "state": secrets.token_urlsafe(16),
            }
        )
        return _credentials(tokens, credentials.refresh_token, credentials.account_id, credentials.extra)

    def _token_request(self, data: dict[str, str]) -> dict[str, Any]:
        response = guarded(lambda: self._http.post(f"{self._id}/oauth2/auth", data=data), "VK ID")
        if response.status_code >= 500:
            raise PlatformUnavailable("VK ID временно недоступен")
        payload = json_of(response, "VK ID")
        if "error" in payload or "access_token" not in payload:
            # invalid_grant and the like: the grant is gone, the user must connect again.
            raise TokenExpired()
        return payload


def _credentials(
    tokens: dict[str, Any], old_refresh: SecretStr | None, account_id: str, extra: dict[str, str]
) -> Credentials:
    refresh = tokens.get("refresh_token")
    return Credentials(
        access_token=SecretStr(tokens["access_token"]),
        # A refresh that returns no new refresh token keeps the old one.
        refresh_token=SecretStr(refresh) if refresh else old_refresh,
        expires_at=datetime.now(UTC) + timedelta(seconds=int(tokens.get("expires_in", 3600))),
        account_id=account_id,
        extra=extra,
    )


def _result(owner_id: int, video_id: int) -> UploadResult:
    return UploadResult(
        post_id=f"{owner_id}_{video_id}",
        url=f"https://vk.com/clip{owner_id}_{video_id}",
        processing_state="processing",
    )


def _error(error: dict[str, Any]) -> Exception:
    code = int(error.get("error_code", 0))
    if code == 5:
        return TokenExpired()
    if code in _RATE_LIMIT_WAIT:
        return PlatformRateLimited(_RATE_LIMIT_WAIT[code], "VK ограничил частоту запросов")
    if code in (1, 10, 22):
        return PlatformUnavailable("VK временно недоступен")
    if code == 14:
        return Rejected("VK запросил капчу: опубликуйте клип позже или вручную")
    if code in (15, 200, 201, 203, 204):
        return Rejected("VK запретил публикацию: нет прав на загрузку видео")
    return Rejected(f"VK отклонил публикацию (код ошибки {code})")
