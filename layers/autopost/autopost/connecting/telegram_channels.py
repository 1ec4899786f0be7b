"""Telegram channels posted to by the service's own bot: only after the user proves they
control the channel, and one user per channel.

A user asks to connect `@channel`; we check the service bot may post there and give them a
one-time code. They post the code in the channel (only its administrators can); Telegram
sends the service bot that post (a webhook carrying our secret token); the code names the
user and the channel, the post's chat must be that channel, and then the channel is theirs
and the post is deleted. Knowing a channel's name, or that our bot sits in it, is no longer
enough to post there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from autopost.domain.errors import ChannelTaken, PlatformError
from autopost.domain.models import Account, Connection, Credentials
from autopost.domain.platforms import Platform
from autopost.infra.observability import logger
from autopost.providers.telegram import TelegramProvider
from autopost.storage.channel_claims import CODE_PREFIX, ChannelClaims
from autopost.storage.connections import ConnectionRepository

SERVICE_BOT = "service_bot"
_CODE = re.compile(re.escape(CODE_PREFIX) + r"[A-Z0-9]{8}")


@dataclass(frozen=True)
class Proof:
    code: str
    expires_at: datetime


class TelegramChannels:
    def __init__(
        self,
        connections: ConnectionRepository,
        claims: ChannelClaims,
        provider: TelegramProvider,
        service_bot: Callable[[], SecretStr],
    ) -> None:
        self._connections = connections
        self._claims = claims
        self._provider = provider
        self._service_bot = service_bot

    def start_proof(self, user_id: str, channel: str) -> Proof:
        """The code to post in the channel. The service bot must already be able to post
        there; nothing about the channel (its title) is told before the proof."""
        account = self._provider.check(Credentials(self._service_bot(), extra={"channel": channel}))
        self._ensure_free(account.account_id, user_id)
        code, expires = self._claims.new_proof(user_id, account.account_id, channel)
        return Proof(code, expires)  # type: ignore[arg-type]

    def connect_with_own_bot(self, user_id: str, account: Account, credentials: Credentials) -> Connection:
        """A user's own bot, administrator of the channel, is proof enough; the channel is
        still theirs alone."""
        if not self._take(account.account_id, user_id):
            raise ChannelTaken()
        return self._connect(user_id, account, credentials)

    def release(self, user_id: str, chat_id: str) -> None:
        self._claims.release(chat_id, user_id)

    def _ensure_free(self, chat_id: str, user_id: str) -> None:
        holder = self._claims.holder(chat_id)
        if holder is not None and holder != user_id and not self._stale(chat_id, holder):
            raise ChannelTaken()

    def _take(self, chat_id: str, user_id: str) -> bool:
        """Bind the channel to the user, taking it from a holder whose claim is stale."""
        if self._claims.claim(chat_id, user_id):
            return True
        holder = self._claims.holder(chat_id)
        if holder is None or self._stale(chat_id, holder):
            if holder is not None:
                self._claims.release(chat_id, holder)
            return self._claims.claim(chat_id, user_id)
        return False

    def _stale(self, chat_id: str, holder: str) -> bool:
        """The holder no longer posts to this channel through us (disconnected, or moved to
        another channel before claims were released): the claim is not theirs to keep."""
        connection = self._connections.get(holder, Platform.TELEGRAM)
        return connection is None or connection.account_id != chat_id

    def _connect(self, user_id: str, account: Account, credentials: Credentials) -> Connection:
        """Store the connection; the channel it replaces (if another) is released."""
        previous = self._connections.get(user_id, Platform.TELEGRAM)
        connection = self._connections.connect(user_id, Platform.TELEGRAM, account, credentials)
        if previous is not None and previous.account_id != account.account_id:
            self._claims.release(previous.account_id, user_id)
        return connection

    def confirm(self, update: dict[str, Any]) -> bool:
        """A post the service bot saw in a channel: if it carries a pending code for that
        very channel, connect the channel to the code's user and delete the post."""
        post = update.get("channel_post")
        if not isinstance(post, dict):
            return False
        found = _CODE.search(str(post.get("text") or post.get("caption") or ""))
        chat = post.get("chat")
        if found is None or not isinstance(chat, dict) or "id" not in chat:
            return False
        proof = self._claims.take_proof(found.group(0))
        if proof is None or str(chat["id"]) != proof.chat_id:
            logger.info("channel post with an unknown, used or foreign code")
            return False
        if not self._take(proof.chat_id, proof.user_id):
            logger.info("channel already connected by another user")
            return False
        extra = {"channel": proof.channel, "chat_id": proof.chat_id, SERVICE_BOT: "1"}
        if chat.get("username"):
            extra["username"] = str(chat["username"])
        account = Account(proof.chat_id, str(chat.get("title") or proof.channel), extra)
        # The service's own bot token lives in Secrets Manager, not in every row.
        self._connect(proof.user_id, account, Credentials(access_token=SecretStr(""), extra=extra))
        try:
            self._provider.delete_message(
                Credentials(self._service_bot()), proof.chat_id, int(post["message_id"])
            )
        except (PlatformError, KeyError, ValueError):
            logger.warning("the code's post could not be deleted")
        logger.info("telegram channel proven and connected", extra={"user": proof.user_id})
        return True
