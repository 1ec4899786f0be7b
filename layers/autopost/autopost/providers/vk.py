"""VK: real clips through the signed-in session of VK's own video app (`shortVideo.*`,
unofficial: autopost.providers.vk_session), regular videos through `video.save` with an
OAuth token (VK ID or the legacy implicit flow), statistics through `video.get` and, for
clips, `shortVideo.get`.

What each call rests on (README, "What rests on what"):
- `video.save`, `video.get`, `users.get`, `groups.get`, the error envelope: the official
  schema (tests/reference/vk-api-schema, API 5.199).
- `shortVideo.create` → upload → `shortVideo.encodeProgress` → `shortVideo.edit` →
  `shortVideo.publish(license_agree=1)`, `shortVideo.get`: undocumented; as
  MaxNagibator/MediaOrcestrator (VkVideoService.cs, VkVideoChannel.cs) and
  crosspostly/diveclub-vkposter call them, with a web token of VK's video app. A token of a
  third-party app gets error 3 on every version tried (diveclub CLIPS.md), so an OAuth
  connection publishes regular videos and says so.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from autopost.domain.errors import PlatformUnavailable, Rejected, TokenExpired
from autopost.domain.models import Account, Credentials
from autopost.domain.platforms import Platform, PublishFormat
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
from autopost.providers.http import guarded, json_of, multipart, new_client
from autopost.providers.oauth import OAuthGrant
from autopost.providers.vk_api import NAME, NO_VIDEO_RIGHTS, VkApiError, platform_error, vk_answer
from autopost.providers.vk_session import VkSession, is_session, new_upload_session

API_VERSION = "5.199"
STATS_BATCH = 200  # video.get takes up to 200 videos a call
# VK ID scopes are space-separated; the legacy flow takes a comma-separated list and, since
# API 5.105, refuses `offline` as an invalid scope (VKCOM/vk-android-sdk#518).
VKID_SCOPE = "video groups"
IMPLICIT_SCOPE = "video,groups"
NOT_PROCESSED_YET = 3001  # shortVideo.publish before encoding is done
CHECK_AFTER_SECONDS = 15.0
IMPLICIT_DEFAULT_LIFETIME = 86400  # a legacy token without `offline` lives a day
# What VK's web app sends with a clip's text (MediaOrcestrator, diveclub): not an advert.
ORD_INFO = json.dumps({"is_ads": False, "advertisers": []}, separators=(",", ":"))


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
        self._oauth = settings.vk_oauth_url.rstrip("/")
        self._flow = settings.vk_auth_flow
        self._client_id = settings.vk_client_id
        self._http = http or new_client()
        self._session = VkSession(settings, self._http, throttle)

    # -- API calls ------------------------------------------------------------------------

    def call(self, method: str, credentials: Credentials, **params: Any) -> Any:
        """The method's `response`, or the mapped platform error."""
        try:
            return self._raw_call(method, credentials, **params)
        except VkApiError as exc:
            raise platform_error(exc) from exc

    def _raw_call(self, method: str, credentials: Credentials, **params: Any) -> Any:
        if is_session(credentials):
            return self._session.call(method, credentials, **params)
        if self._throttle is not None:
            self._throttle(credentials)
        # The token goes in the POST body, never in a URL that could be logged or traced.
        data = {
            **{k: v for k, v in params.items() if v is not None},
            "access_token": credentials.access_token.get_secret_value(),
            "v": API_VERSION,
        }
        response = guarded(lambda: self._http.post(f"{self._api}/method/{method}", data=data), NAME)
        return vk_answer(response)

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
        flow = state.get("flow") or (
            PublishFormat.CLIP.value
            if draft.format is PublishFormat.CLIP and is_session(credentials)
            else PublishFormat.VIDEO.value
        )
        if flow == PublishFormat.VIDEO.value:
            # Also a video begun over OAuth before the user reconnected through the session.
            return self._video(credentials, clip, draft, state, save_checkpoint, deadline)
        if is_session(credentials):
            return self._clip(credentials, clip, draft, state, save_checkpoint, deadline)
        # A clip begun through a session since replaced by an OAuth connection: it was never
        # published, and OAuth cannot finish it; a video goes out instead.
        return self._video(credentials, clip, draft, {}, save_checkpoint, deadline)

    def _clip(
        self,
        credentials: Credentials,
        clip: ClipSource,
        draft: PostDraft,
        state: dict[str, Any],
        save_checkpoint: SaveCheckpoint,
        deadline: float | None,
    ) -> PublishOutcome:
        fresh = not state.get("video_id")
        if fresh:
            created = self.call(
                "shortVideo.create",
                credentials,
                group_id=credentials.extra.get("group_id") or None,
                file_size=clip.size,
            )
            state = {
                "flow": PublishFormat.CLIP.value,
                "owner_id": int(created["owner_id"]),
                "video_id": int(created["video_id"]),
                "upload_url": created["upload_url"],
                "upload_session": new_upload_session(),
            }
            save_checkpoint(dict(state))
        owner = {"owner_id": int(state["owner_id"]), "video_id": int(state["video_id"])}
        if not state.get("uploaded"):
            # After an attempt that died mid-upload, the same file goes again to the same
            # address under the same upload session.
            sent = self._session.upload(state["upload_url"], state["upload_session"], clip, deadline)
            if sent is None:
                if fresh:
                    raise PlatformUnavailable("VK не принял файл, попробуем ещё раз")
                # The address is spent: a new clip. The old one was never published, so
                # nothing appears twice.
                save_checkpoint({"flow": PublishFormat.CLIP.value})
                return self._clip(credentials, clip, draft, {}, save_checkpoint, deadline)
            state.update(uploaded=True, hash=str(sent.get("video_hash") or ""))
            save_checkpoint(dict(state))
        if state["hash"]:
            # The old `<retval>1</retval>` answer carries no hash: publish says when it is ready.
            progress = self.call("shortVideo.encodeProgress", credentials, **owner, hash=state["hash"])
            if not progress.get("is_ready"):
                percents = int(progress.get("percents") or 0)
                return Processing(f"VK обрабатывает клип: {percents}%", CHECK_AFTER_SECONDS)
        if not state.get("edited"):
            self.call(
                "shortVideo.edit",
                credentials,
                **owner,
                description=draft.text,
                privacy_view="all",
                privacy_comment="all",
                can_make_duet=1,
                ord_info=ORD_INFO,
            )
            state["edited"] = True
            save_checkpoint(dict(state))
        try:
            self._raw_call(
                "shortVideo.publish",
                credentials,
                **owner,
                wallpost=0,
                publish_date=0,
                license_agree=1,
                ref="video_as_clip_video_upload",
            )
        except VkApiError as exc:
            if exc.vk_code == NOT_PROCESSED_YET:
                return Processing("VK ещё обрабатывает клип", CHECK_AFTER_SECONDS)
            raise platform_error(exc) from exc
        owner_id, video_id = owner["owner_id"], owner["video_id"]
        return Published(
            post_id=f"{owner_id}_{video_id}",
            url=_url(PublishFormat.CLIP, owner_id, video_id),
            processing_state="ready",
            published_as=PublishFormat.CLIP.value,
        )

    def _video(
        self,
        credentials: Credentials,
        clip: ClipSource,
        draft: PostDraft,
        state: dict[str, Any],
        save_checkpoint: SaveCheckpoint,
        deadline: float | None,
    ) -> PublishOutcome:
        if state.get("video_id") and not state.get("uploaded"):
            owner_id, video_id = int(state["owner_id"]), int(state["video_id"])
            # An attempt that died after sending the file: VK has it, so it is the post.
            has_file = self._find(credentials, owner_id, video_id) is not None
            if has_file or self._send_file(state["upload_url"], clip, deadline) is not None:
                state["uploaded"] = True
                save_checkpoint(dict(state))
            else:
                state = {}
        if not state.get("video_id"):
            saved = self.call(
                "video.save",
                credentials,
                name=draft.title,
                description=draft.description,
                wallpost=0,
                group_id=credentials.extra.get("group_id") or None,
            )
            state = {
                "flow": PublishFormat.VIDEO.value,
                "owner_id": int(saved["owner_id"]),
                "video_id": int(saved["video_id"]),
                "upload_url": saved["upload_url"],
            }
            save_checkpoint(dict(state))
            if self._send_file(saved["upload_url"], clip, deadline) is None:
                raise PlatformUnavailable("VK не принял файл, попробуем ещё раз")
            state["uploaded"] = True
            save_checkpoint(dict(state))
        owner_id, video_id = int(state["owner_id"]), int(state["video_id"])
        video = self._find(credentials, owner_id, video_id)
        if video is None:
            return Processing("VK принимает видео", CHECK_AFTER_SECONDS)
        _raise_if_restricted(video)
        if video.get("processing") or video.get("converting"):
            return Processing("VK обрабатывает видео", CHECK_AFTER_SECONDS)
        made = PublishFormat.CLIP if video.get("type") == "short_video" else PublishFormat.VIDEO
        return Published(
            post_id=f"{owner_id}_{video_id}",
            url=_url(made, owner_id, video_id),
            processing_state="ready",
            published_as=made.value,
        )

    def _send_file(self, upload_url: str, clip: ClipSource, deadline: float | None) -> dict[str, Any] | None:
        """The upload server's answer, or None when it refuses the address (spent, expired)."""
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
        if not isinstance(payload, dict) or "error" in payload:
            return None
        return payload

    def _find(self, credentials: Credentials, owner_id: int, video_id: int) -> dict[str, Any] | None:
        found = self.call("video.get", credentials, videos=f"{owner_id}_{video_id}", count=1)
        return next(iter(found.get("items", [])), None)

    # -- statistics and the account -------------------------------------------------------

    def fetch_stats(self, credentials: Credentials, post_ids: list[str]) -> dict[str, PostStats]:
        """Regular videos from `video.get`; clips are not there: with a session, each from
        `shortVideo.get` as VK's video app reads it. A post VK gives no figures for is left
        out (shown as no data, never as 0)."""
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
        if is_session(credentials):
            for post_id in post_ids:
                if post_id not in stats:
                    stats.update(self._clip_stats(credentials, post_id))
        return stats

    def _clip_stats(self, credentials: Credentials, post_id: str) -> dict[str, PostStats]:
        # One clip a call, as the public client does: a batch size VK takes is not known.
        found = self.call("shortVideo.get", credentials, short_video_raw_ids=post_id, fields="")
        for entry in (found.get("feed") or {}).get("items", []):
            item = entry.get("item") or {}
            if f"{item.get('owner_id')}_{item.get('id')}" != post_id:
                continue
            figures = item.get("engagement") or {}
            return {
                post_id: PostStats(
                    views=figures.get("view_count"),
                    likes=figures.get("like_count"),
                    comments=figures.get("comment_count"),
                    reposts=figures.get("repost_count"),
                )
            }
        return {}

    def check(self, credentials: Credentials) -> Account:
        """The connection's own user (`users.get` without ids answers for the token's owner);
        an OAuth token must also hold the video right publishing needs (a `video.get`, which
        VK refuses without it: error 15, subcode 1133)."""
        (user,) = self.call("users.get", credentials)
        if not is_session(credentials):
            self.call("video.get", credentials, count=1)
        name = " ".join(part for part in (user.get("first_name"), user.get("last_name")) if part)
        kept = ("device_id", "group_id", "group_name", "auth")
        extra = {k: v for k, v in credentials.extra.items() if k in kept}
        return Account(account_id=str(user["id"]), name=name or f"VK id{user['id']}", extra=extra)

    def communities(self, credentials: Credentials) -> list[tuple[int, str]]:
        """Communities the user may publish to: administrator or editor (`groups.get`)."""
        found = self.call("groups.get", credentials, filter="editor", extended=1, count=1000)
        return [(int(item["id"]), str(item.get("name") or item["id"])) for item in found.get("items", [])]

    # -- connecting: VK ID (OAuth 2.1 with PKCE) or the legacy implicit flow ---------------

    def authorize_url(self, state: str, challenge: str, redirect_uri: str) -> str:
        if self._flow == "implicit":
            query = {
                "client_id": self._client_id,
                "display": "page",
                "redirect_uri": redirect_uri,
                "scope": IMPLICIT_SCOPE,
                "response_type": "token",
                "v": API_VERSION,
                "state": state,
            }
            return f"{self._oauth}/authorize?{urlencode(query)}"
        query = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": VKID_SCOPE,
        }
        return f"{self._id}/authorize?{urlencode(query)}"

    def complete(self, grant: OAuthGrant) -> tuple[Credentials, Account]:
        if self._flow == "implicit":
            return self._accept_token(grant)
        if not grant.code:
            raise Rejected("VK ID не передал код авторизации")
        if not grant.device_id:
            raise Rejected("VK ID не передал device_id")
        tokens = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": grant.code,
                "code_verifier": grant.verifier,
                "redirect_uri": grant.redirect_uri,
                "client_id": self._client_id,
                "device_id": grant.device_id,
                "state": secrets.token_urlsafe(16),
            }
        )
        granted = str(tokens.get("scope") or "").split()
        if granted and "video" not in granted:
            # VK ID drops the rights an app does not hold without a word: its `scope` says.
            raise Rejected(NO_VIDEO_RIGHTS, code="VK_NO_VIDEO_RIGHTS")
        credentials = _credentials(tokens, None, str(tokens["user_id"]), {"device_id": grant.device_id})
        return credentials, self.check(credentials)

    def _accept_token(self, grant: OAuthGrant) -> tuple[Credentials, Account]:
        """The legacy flow's token, from the redirect's fragment: whose it is comes from VK
        (`users.get`), never from what the browser says."""
        if grant.access_token is None or not grant.access_token.get_secret_value():
            raise Rejected("VK не передал токен")
        lifetime = IMPLICIT_DEFAULT_LIFETIME if grant.expires_in is None else grant.expires_in
        expires_at = datetime.now(UTC) + timedelta(seconds=lifetime) if lifetime > 0 else None
        unchecked = Credentials(access_token=grant.access_token, expires_at=expires_at)
        account = self.check(unchecked)
        return Credentials(grant.access_token, None, expires_at, account.account_id), account

    def refresh(self, credentials: Credentials) -> Credentials:
        if is_session(credentials):
            # A session is not refreshed: it still mints a web token, or the user signs in again.
            self._session.web_token(credentials, fresh=True)
            return credentials
        if credentials.refresh_token is None:
            raise TokenExpired()  # a legacy token has no refresh: the user connects again
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


def _url(made: PublishFormat, owner_id: int, video_id: int) -> str:
    kind = "clip" if made is PublishFormat.CLIP else "video"
    return f"https://vk.com/{kind}{owner_id}_{video_id}"


def _raise_if_restricted(video: dict[str, Any]) -> None:
    if video.get("content_restricted"):
        reason = str(video.get("content_restricted_message") or "").strip()
        raise Rejected(f"VK не опубликовал видео: {reason}" if reason else "VK не опубликовал видео")
