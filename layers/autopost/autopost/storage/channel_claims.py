"""Who may post to a Telegram channel through us: one user at a time, after proving control.

Two kinds of control items: `tgclaim#{chat id}` names the user a channel is connected to
(taken with a condition, so two users never hold one channel); `tgcode#{code}` is a pending
proof: the user posts the code in the channel, the service bot sees the post, and the code
(single use, 15 minutes) says which user and which channel it was for.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import DeleteError, PutError

from autopost.domain.clock import utcnow
from autopost.infra.settings import Settings
from autopost.storage.tables import records

CODE_LIFETIME = timedelta(minutes=15)
# Unambiguous letters and digits: the code is typed or pasted into a channel by a person.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_PREFIX = "autopost-"
CONFLICT = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class PendingProof:
    code: str
    user_id: str
    chat_id: str
    channel: str


class ChannelClaims:
    def __init__(self, settings: Settings) -> None:
        self._control = records(settings).control

    def holder(self, chat_id: str) -> str | None:
        try:
            return self._control.get(f"tgclaim#{chat_id}", consistent_read=True).user_id
        except self._control.DoesNotExist:
            return None

    def held_by(self, chat_id: str, user_id: str) -> bool:
        return self.holder(chat_id) == user_id

    def claim(self, chat_id: str, user_id: str) -> bool:
        """Bind the channel to the user; False when another user holds it."""
        control = self._control
        try:
            control(f"tgclaim#{chat_id}", user_id=user_id).save(
                condition=control.pk.does_not_exist() | (control.user_id == user_id)
            )
        except PutError as exc:
            if exc.cause_response_code == CONFLICT:
                return False
            raise
        return True

    def release(self, chat_id: str, user_id: str) -> None:
        control = self._control
        try:
            control(f"tgclaim#{chat_id}").delete(condition=control.user_id == user_id)
        except DeleteError as exc:
            if exc.cause_response_code != CONFLICT:
                raise

    def new_proof(self, user_id: str, chat_id: str, channel: str) -> tuple[str, object]:
        """A one-time code to post in the channel, and until when it is good."""
        code = CODE_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(8))
        expires = utcnow() + CODE_LIFETIME
        control = self._control
        control(
            f"tgcode#{code}",
            user_id=user_id,
            payload=json.dumps({"chat_id": chat_id, "channel": channel}),
            expires_at=expires,
        ).save(condition=control.pk.does_not_exist())
        return code, expires

    def take_proof(self, code: str) -> PendingProof | None:
        """The pending proof this code names, removed so it counts once; None when unknown,
        used or expired."""
        control = self._control
        try:
            item = control.get(f"tgcode#{code}", consistent_read=True)
        except control.DoesNotExist:
            return None
        try:
            item.delete(condition=control.payload == item.payload)
        except DeleteError as exc:
            if exc.cause_response_code == CONFLICT:
                return None
            raise
        if item.expires_at is None or item.expires_at < utcnow():
            return None
        where = json.loads(item.payload)
        return PendingProof(code, item.user_id, str(where["chat_id"]), str(where["channel"]))
