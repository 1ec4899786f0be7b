"""Telegram Bot API: getMe, getChat, getChatMember, sendVideo (multipart).

Modelled on the official Bot API documentation (core.telegram.org/bots/api), as the
machine-readable spec in tests/reference/telegram-bot-api.json has it (tests validate the
answers with it): `{"ok": true, "result": ...}`,
failures `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`.
Bots may upload up to 50 MB (2000 MB in `local_mode`, as a local Bot API server allows);
a channel takes about 20 messages a minute.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulators.http import Emulator, Fault, Request, Response, read_multipart

MB = 1024 * 1024
MESSAGES_PER_MINUTE = 20


@dataclass
class Bot:
    token: str
    user_id: int
    username: str


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
        self._sent: dict[int, deque[float]] = defaultdict(deque)
        self._next_message = 100
        self._lock_state = threading.Lock()

    # -- test setup -----------------------------------------------------------------------

    def add_bot(self, username: str = "autopost_bot", token: str | None = None) -> str:
        user_id = 7_000_000_000 + len(self.bots) + 1
        token = token or f"{user_id}:{secrets.token_urlsafe(26)}"
        self.bots[token] = Bot(token, user_id, username)
        return token

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
        return {"messages": self.messages}

    def control(self, request: Request) -> Response:
        """`POST /_emulator/bot {username}` and `POST /_emulator/channel {username, title,
        admin_bots}`: what a user does in Telegram before connecting a channel."""
        if request.method == "POST" and request.path == "/_emulator/bot":
            return Response.json({"token": self.add_bot(request.json().get("username", "autopost_bot"))})
        if request.method == "POST" and request.path == "/_emulator/channel":
            spec = request.json()
            chat_id = self.add_channel(
                spec.get("username"), spec.get("title", "Канал"), tuple(spec.get("admin_bots", ()))
            )
            return Response.json({"chat_id": chat_id})
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

    def _send_video(self, request: Request, bot: Bot) -> Response:
        fields, files = read_multipart(request)
        channel = self._channel(fields.get("chat_id", ""))
        video = next((f for f in files if f.field == "video"), None)
        if channel is None:
            return _fail(400, "Bad Request: chat not found")
        if not channel.admins.get(bot.user_id):
            return _fail(403, "Forbidden: bot is not a member of the channel chat")
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
