"""Telegram Bot API: getMe, getChat, getChatMember, sendVideo (multipart).

Modelled on the official Bot API documentation (core.telegram.org/bots/api), as the
machine-readable spec in tests/reference/telegram-bot-api.json has it (tests validate the
answers with it): `{"ok": true, "result": ...}`,
failures `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`.
Bots may upload up to 50 MB (2000 MB in `local_mode`, as a local Bot API server started
with `--local` allows; without it a local server answers 413 at 50 MB too,
tdlib/telegram-bot-api#720); a channel takes about 20 messages a minute.

Refusals as the service words them: a caption over 1,024 characters counted in UTF-16 code
units (an emoji outside the BMP is two) is "Bad Request: message caption is too long"
(NousResearch/hermes-agent#49324, elizaOS/eliza#24479); a bot that is an administrator
without the right to post gets 400 "Bad Request: need administrator rights in the channel
chat" (teloxide/teloxide#450); one that is not a member, 403.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from emulators.http import Emulator, Fault, Request, Response, read_multipart

MB = 1024 * 1024
MESSAGES_PER_MINUTE = 20
CAPTION_UNITS = 1024  # UTF-16 code units, as Telegram counts


@dataclass
class Bot:
    token: str
    user_id: int
    username: str
    webhook_url: str = ""
    webhook_secret: str = ""
    allowed_updates: tuple[str, ...] = ()


@dataclass
class Channel:
    chat_id: int
    username: str | None
    title: str
    admins: dict[int, bool] = field(default_factory=dict)  # bot user id -> can_post_messages


class TelegramEmulator(Emulator):
    name = "telegram"

    def __init__(self, local_mode: bool = False, enforce_rate_limit: bool = True) -> None:
        super().__init__()
        self.local_mode = local_mode
        self.enforce_rate_limit = enforce_rate_limit
        self.reset_state()

    def reset_state(self) -> None:
        self.bots: dict[str, Bot] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: list[dict[str, Any]] = []
        self.deleted: list[tuple[int, int]] = []
        self.deliveries: list[dict[str, Any]] = []
        self._sent: dict[int, deque[float]] = defaultdict(deque)
        self._next_message = 100
        self._next_update = 500_000
        self._lock_state = threading.Lock()

    # -- test setup -----------------------------------------------------------------------

    def add_bot(self, username: str = "autopost_bot", token: str | None = None) -> str:
        user_id = 7_000_000_000 + len(self.bots) + 1
        token = token or f"{user_id}:{secrets.token_urlsafe(26)}"
        self.bots[token] = Bot(token, user_id, username)
        self.issued.append(token.split(":", 1)[1])  # the secret part; the bot's id is public
        return token

    def token_of(self, username: str) -> str:
        return next(bot.token for bot in self.bots.values() if bot.username == username)

    def add_channel(
        self,
        username: str | None = "my_channel",
        title: str = "Мой канал",
        admin_bots: tuple[str, ...] = (),
        can_post: bool = True,
    ) -> int:
        chat_id = -1_001_000_000_000 - len(self.channels) - 1
        channel = Channel(chat_id, username, title)
        for token in admin_bots:
            channel.admins[self.bots[token].user_id] = can_post
        self.channels[chat_id] = channel
        return chat_id

    def state(self) -> dict[str, Any]:
        return {"messages": self.messages, "deleted": self.deleted, "deliveries": self.deliveries}

    def post_in_channel(self, channel: str | int, text: str) -> dict[str, Any]:
        """A post an administrator of the channel makes by hand. Telegram sends it, as a
        `channel_post` Update, to every bot administering the channel that has a webhook
        (with the webhook's secret token header); the Update is returned too."""
        found = self._channel(str(channel))
        if found is None:
            raise KeyError(f"no channel {channel}")
        with self._lock_state:
            self._next_message += 1
            self._next_update += 1
            message_id, update_id = self._next_message, self._next_update
        chat: dict[str, Any] = {"id": found.chat_id, "type": "channel", "title": found.title}
        if found.username:
            chat["username"] = found.username
        update = {
            "update_id": update_id,
            "channel_post": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat,
                "sender_chat": chat,
                "text": text,
            },
        }
        for bot in self.bots.values():
            if (
                bot.user_id in found.admins
                and bot.webhook_url
                and "channel_post" in (bot.allowed_updates or ("channel_post",))
            ):
                answer = httpx.post(
                    bot.webhook_url,
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": bot.webhook_secret}
                    if bot.webhook_secret
                    else {},
                    timeout=30,
                )
                self.deliveries.append(
                    {"bot": bot.username, "update_id": update_id, "status": answer.status_code}
                )
        return update

    def control(self, request: Request) -> Response:
        """`POST /_emulator/bot {username}` and `POST /_emulator/channel {username, title,
        admin_bots}`: what a user does in Telegram before connecting a channel."""
        if request.method == "POST" and request.path == "/_emulator/bot":
            return Response.json({"token": self.add_bot(request.json().get("username", "autopost_bot"))})
        if request.method == "POST" and request.path == "/_emulator/channel":
            spec = request.json()
            # Administrators by token, or by the bot's @username (what a channel owner types).
            by_name = {f"@{b.username}": b.token for b in self.bots.values()}
            admins = tuple(by_name.get(entry, entry) for entry in spec.get("admin_bots", ()))
            if any(token not in self.bots for token in admins):
                return Response.json({"error": "no such bot"}, status=404)
            chat_id = self.add_channel(spec.get("username"), spec.get("title", "Канал"), admins)
            return Response.json({"chat_id": chat_id})
        if request.method == "POST" and request.path == "/_emulator/channel_post":
            spec = request.json()
            try:
                update = self.post_in_channel(spec["channel"], str(spec.get("text", "")))
            except KeyError:
                return Response.json({"error": "no such channel"}, status=404)
            return Response.json(update)
        if request.method == "POST" and request.path == "/_emulator/channel_admin":
            spec = request.json()
            found = self._channel(str(spec["channel"]))
            if found is None or spec["bot_token"] not in self.bots:
                return Response.json({"error": "no such channel or bot"}, status=404)
            found.admins[self.bots[spec["bot_token"]].user_id] = True
            return Response.json({"ok": True})
        return super().control(request)

    # -- routing --------------------------------------------------------------------------

    def route(self, request: Request) -> tuple[str, Callable[[Request], Response]] | None:
        parts = request.path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return None
        token, method = parts[0][3:], parts[1]
        handlers = {
            "getMe": self._get_me,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "sendVideo": self._send_video,
            "deleteMessage": self._delete_message,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }
        if method not in handlers:
            return None

        def handle(req: Request) -> Response:
            bot = self.bots.get(token)
            if bot is None:
                req.read()
                return _fail(401, "Unauthorized")
            return handlers[method](req, bot)

        return method, handle

    def fault_response(self, endpoint: str, fault: Fault) -> Response:
        if fault.kind == "rate_limit":
            return _fail(
                429, f"Too Many Requests: retry after {fault.retry_after}", retry_after=fault.retry_after
            )
        if fault.kind == "token_expired":
            return _fail(401, "Unauthorized")
        return _fail(500, "Internal Server Error")

    # -- methods --------------------------------------------------------------------------

    def _user(self, bot: Bot) -> dict[str, Any]:
        return {
            "id": bot.user_id,
            "is_bot": True,
            "first_name": "Autopost",
            "username": bot.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _channel(self, chat_id: str) -> Channel | None:
        if chat_id.startswith("@"):
            return next((c for c in self.channels.values() if c.username == chat_id[1:]), None)
        try:
            return self.channels.get(int(chat_id))
        except ValueError:
            return None

    def _get_me(self, request: Request, bot: Bot) -> Response:
        request.read()
        self.record("getMe")
        return _ok(self._user(bot))

    def _get_chat(self, request: Request, bot: Bot) -> Response:
        channel = self._channel(_param(request, "chat_id"))
        self.record("getChat")
        if channel is None:
            return _fail(400, "Bad Request: chat not found")
        chat: dict[str, Any] = {
            "id": channel.chat_id,
            "type": "channel",
            "title": channel.title,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if channel.username:
            chat["username"] = channel.username
        return _ok(chat)

    def _get_chat_member(self, request: Request, bot: Bot) -> Response:
        fields = _params(request)
        channel = self._channel(fields.get("chat_id", ""))
        self.record("getChatMember")
        if channel is None:
            return _fail(400, "Bad Request: chat not found")
        user_id = int(fields.get("user_id", "0"))
        member_bot = next((b for b in self.bots.values() if b.user_id == user_id), None)
        user = (
            self._user(member_bot) if member_bot else {"id": user_id, "is_bot": False, "first_name": "User"}
        )
        if user_id not in channel.admins:
            return _ok({"status": "left", "user": user})
        rights = dict.fromkeys(
            (
                "can_be_edited",
                "is_anonymous",
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_promote_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
            ),
            False,
        )
        return _ok(
            {
                "status": "administrator",
                "user": user,
                **rights,
                "can_post_messages": channel.admins[user_id],
                "can_edit_messages": True,
            }
        )

    def _delete_message(self, request: Request, bot: Bot) -> Response:
        fields = _params(request)
        channel = self._channel(fields.get("chat_id", ""))
        self.record("deleteMessage")
        if channel is None:
            return _fail(400, "Bad Request: chat not found")
        if not channel.admins.get(bot.user_id):
            return _fail(400, "Bad Request: message can't be deleted")
        self.deleted.append((channel.chat_id, int(fields.get("message_id", "0"))))
        return _ok(True)

    def _set_webhook(self, request: Request, bot: Bot) -> Response:
        fields = _params(request)
        secret = fields.get("secret_token", "")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            return _fail(400, "Bad Request: secret token contains unallowed characters")
        url = fields.get("url", "")
        if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            return _fail(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        bot.webhook_url, bot.webhook_secret = url, secret
        bot.allowed_updates = tuple(json.loads(fields.get("allowed_updates") or "[]"))
        self.record("setWebhook")
        return _ok(True)

    def _get_webhook_info(self, request: Request, bot: Bot) -> Response:
        request.read()
        info: dict[str, Any] = {
            "url": bot.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if bot.allowed_updates:
            info["allowed_updates"] = list(bot.allowed_updates)
        return _ok(info)

    def _send_video(self, request: Request, bot: Bot) -> Response:
        fields, files = read_multipart(request)
        channel = self._channel(fields.get("chat_id", ""))
        video = next((f for f in files if f.field == "video"), None)
        if channel is None:
            return _fail(400, "Bad Request: chat not found")
        if bot.user_id not in channel.admins:
            return _fail(403, "Forbidden: bot is not a member of the channel chat")
        if not channel.admins[bot.user_id]:
            return _fail(400, "Bad Request: need administrator rights in the channel chat")
        if len(fields.get("caption", "").encode("utf-16-le")) // 2 > CAPTION_UNITS:
            self.record("sendVideo", refused="caption too long")
            return _fail(400, "Bad Request: message caption is too long")
        if video is None:
            return _fail(400, "Bad Request: there is no video in the request")
        if video.size > (2000 if self.local_mode else 50) * MB:
            return _fail(413, "Request Entity Too Large")
        if self.enforce_rate_limit:
            with self._lock_state:
                sent, now = self._sent[channel.chat_id], time.monotonic()
                while sent and now - sent[0] > 60:
                    sent.popleft()
                if len(sent) >= MESSAGES_PER_MINUTE:
                    wait = int(60 - (now - sent[0])) + 1
                    return _fail(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
                sent.append(now)
        with self._lock_state:
            self._next_message += 1
            message_id = self._next_message
        chat: dict[str, Any] = {"id": channel.chat_id, "type": "channel", "title": channel.title}
        if channel.username:
            chat["username"] = channel.username
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "sender_chat": chat,
            "video": {
                "file_id": "BAACAgIAAxkBAAI" + secrets.token_urlsafe(20),
                "file_unique_id": "AgAD" + secrets.token_urlsafe(8),
                # Telegram takes the shape the bot states (and works it out otherwise).
                "width": int(fields.get("width") or 64),
                "height": int(fields.get("height") or 48),
                "duration": int(fields.get("duration") or 2),
                "file_name": video.filename,
                "mime_type": "video/mp4",
                "file_size": video.size,
            },
        }
        if fields.get("caption"):
            message["caption"] = fields["caption"]
        self.messages.append(
            {
                "chat_id": channel.chat_id,
                "message_id": message_id,
                "bytes": video.size,
                "sha256": video.sha256,
                "caption": fields.get("caption", ""),
                "fields": {**fields, "video": video.filename},
                "at": time.time(),
            }
        )
        self.record("sendVideo", bytes=video.size, chat_id=channel.chat_id)
        return _ok(message)


def _ok(result: Any) -> Response:
    return Response.json({"ok": True, "result": result})


def _fail(code: int, description: str, retry_after: int | None = None) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return Response.json(body, status=code)


def _params(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        return {k: str(v) for k, v in request.json().items()}
    return request.form()


def _param(request: Request, name: str) -> str:
    return _params(request).get(name, "")
