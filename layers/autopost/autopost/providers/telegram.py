"""Telegram channels through the Bot API: sendVideo as multipart; no post statistics.

Failures come as `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`
(the Bot API spec, tests/reference/telegram-bot-api.json). The base URL is a setting: a local
Bot API server started with `--local` lifts the upload limit from 50 MB to 2000 MB; one
started without it still answers 413 at 50 MB (tdlib/telegram-bot-api#720). A caption is
fitted to 1,024 UTF-16 code units (autopost.domain.captions). An administrator without the right to
post is 400 "need administrator rights in the channel chat" (teloxide/teloxide#450).
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from autopost.domain.captions import TELEGRAM_CAPTION_UNITS, fit
from autopost.domain.errors import (
    PlatformRateLimited,
    PlatformUnavailable,
    Rejected,
    StatsUnavailable,
    TokenExpired,
)
from autopost.domain.models import Account, Credentials
from autopost.domain.platforms import Platform
from autopost.infra.settings import Settings
from autopost.providers.base import ClipSource, PostDraft, PostStats, Published, SaveCheckpoint
from autopost.providers.http import guarded, json_of, multipart, new_client

NAME = "Telegram"
BOT_TOKEN_INVALID = "Токен бота недействителен, переподключите Telegram"  # noqa: S105 (a message)
NO_POST_RIGHTS = "Бот не может публиковать в канал: сделайте его администратором с правом публикации"


class TelegramProvider:
    platform = Platform.TELEGRAM
    upload_timeout_seconds = 300.0

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self._api = settings.telegram_api_url.rstrip("/")
        self._http = http or new_client()
        self._local_server = settings.telegram_local_bot_api

    def call(self, credentials: Credentials, method: str, data: dict[str, Any] | None = None) -> Any:
        url = f"{self._api}/bot{credentials.access_token.get_secret_value()}/{method}"
        response = guarded(lambda: self._http.post(url, data=data or {}), NAME)
        return self._result(response)

    def _result(self, response: httpx.Response) -> Any:
        if response.status_code >= 500:
            raise PlatformUnavailable("Telegram временно недоступен")
        payload = json_of(response, NAME)
        if payload.get("ok"):
            return payload["result"]
        code = int(payload.get("error_code", response.status_code))
        description = str(payload.get("description", ""))
        if code == 401:
            raise TokenExpired(BOT_TOKEN_INVALID)
        if code == 429:
            raise PlatformRateLimited(
                (payload.get("parameters") or {}).get("retry_after", 30),
                "Telegram ограничил частоту сообщений",
            )
        if code == 403 or (code == 400 and "need administrator rights" in description):
            raise Rejected(NO_POST_RIGHTS, code="TELEGRAM_NO_POST_RIGHTS")
        if code == 413:
            if self._local_server:
                raise Rejected(
                    "Сервер Bot API не принял файл больше 50 МБ: похоже, он запущен без --local, "
                    "и лимит Telegram — 50 МБ"
                )
            raise Rejected("Файл слишком большой для Telegram (максимум 50 МБ)")
        if code == 400 and "caption is too long" in description:
            raise Rejected(f"Telegram не принял подпись: она длиннее {TELEGRAM_CAPTION_UNITS} знаков")
        if code == 400 and "chat not found" in description:
            raise Rejected("Канал Telegram не найден")
        if code >= 500:
            raise PlatformUnavailable("Telegram временно недоступен")
        raise Rejected(f"Telegram отклонил публикацию (код {code})")

    def publish(
        self,
        credentials: Credentials,
        clip: ClipSource,
        draft: PostDraft,
        checkpoint: dict[str, Any] | None,
        save_checkpoint: SaveCheckpoint,
        deadline: float | None = None,
    ) -> Published:
        chat_id = credentials.extra["chat_id"]
        caption = fit(draft.text, TELEGRAM_CAPTION_UNITS).text
        fields = {"chat_id": chat_id, "caption": caption, "supports_streaming": "true"}
        # Without its shape Telegram may show a vertical clip as a square or a landscape.
        for name, value in (
            ("duration", clip.duration_seconds),
            ("width", clip.width),
            ("height", clip.height),
        ):
            if value:
                fields[name] = str(max(1, round(value)))
        url = f"{self._api}/bot{credentials.access_token.get_secret_value()}/sendVideo"
        with clip.open(0) as source:
            headers, body = multipart(
                fields,
                "video",
                clip.filename,
                clip.content_type,
                source,
                clip.size,
                deadline,
                "Загрузка в Telegram не уложилась в 5 минут",
            )
            message = self._result(guarded(lambda: self._http.post(url, content=body, headers=headers), NAME))
        return Published(post_id=f"{chat_id}:{message['message_id']}", url=_post_url(message))

    def delete_message(self, credentials: Credentials, chat_id: str, message_id: int) -> None:
        self.call(credentials, "deleteMessage", {"chat_id": chat_id, "message_id": str(message_id)})

    def set_webhook(self, credentials: Credentials, url: str, secret_token: SecretStr) -> None:
        """Where Telegram sends the service bot's updates: only channel posts, with our
        secret token in `X-Telegram-Bot-Api-Secret-Token`."""
        self.call(
            credentials,
            "setWebhook",
            {
                "url": url,
                "secret_token": secret_token.get_secret_value(),
                "allowed_updates": '["channel_post"]',
                "drop_pending_updates": "true",
            },
        )

    def refresh(self, credentials: Credentials) -> Credentials:
        raise TokenExpired(BOT_TOKEN_INVALID)  # bot tokens do not expire or refresh

    def fetch_stats(self, credentials: Credentials, post_ids: list[str]) -> dict[str, PostStats]:
        raise StatsUnavailable()  # the Bot API has no post-level statistics

    def check(self, credentials: Credentials) -> Account:
        """The bot exists, the channel exists, and the bot may post in it."""
        bot = self.call(credentials, "getMe")
        channel = credentials.extra["channel"]
        chat = self.call(credentials, "getChat", {"chat_id": channel})
        if chat.get("type") != "channel":
            raise Rejected("Это не канал: укажите канал Telegram")
        member = self.call(credentials, "getChatMember", {"chat_id": chat["id"], "user_id": bot["id"]})
        if member.get("status") not in ("administrator", "creator") or not member.get(
            "can_post_messages", True
        ):
            raise Rejected(NO_POST_RIGHTS, code="TELEGRAM_NO_POST_RIGHTS")
        return Account(
            account_id=str(chat["id"]),
            name=chat.get("title") or channel,
            extra={"chat_id": str(chat["id"]), "channel": channel, "username": chat.get("username", "")},
        )


def _post_url(message: dict[str, Any]) -> str:
    chat = message["chat"]
    if chat.get("username"):
        return f"https://t.me/{chat['username']}/{message['message_id']}"
    internal = str(chat["id"]).removeprefix("-100")
    return f"https://t.me/c/{internal}/{message['message_id']}"
