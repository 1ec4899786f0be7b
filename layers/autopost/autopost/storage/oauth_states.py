"""OAuth `state` values: random, bound to a user and a platform, single use, 10 minutes.

Each is a control item carrying the PKCE verifier (encrypted). Only the user who started
the authorization can redeem it (the console completes it with that user's token), and
redeeming is a conditional delete, so a state is used once even by two racing requests.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr
from pynamodb.exceptions import DeleteError

from autopost.domain.clock import utcnow
from autopost.domain.errors import OAuthStateInvalid
from autopost.domain.platforms import Platform
from autopost.infra.crypto import CipherSource, TokenContext, TokenDecryptError, cipher_of, decrypt_with
from autopost.infra.settings import Settings
from autopost.storage.tables import records

LIFETIME = timedelta(minutes=10)
MAX_STATE_LENGTH = 128


@dataclass(frozen=True)
class PendingAuthorization:
    user_id: str
    platform: Platform
    verifier: SecretStr
    # Where the platform sends the browser back: the code exchange must name it again.
    redirect_uri: str


class OAuthStateStore:
    def __init__(self, settings: Settings, cipher: CipherSource) -> None:
        self._control = records(settings).control
        self._cipher = cipher

    def create(self, user_id: str, platform: Platform, verifier: str, redirect_uri: str) -> str:
        state = secrets.token_urlsafe(32)
        control = self._control
        sealed = cipher_of(self._cipher).encrypt(SecretStr(verifier), _context(state, user_id, platform))
        control(
            f"oauth#{state}",
            user_id=user_id,
            platform=platform.value,
            payload=json.dumps({"verifier": sealed, "redirect_uri": redirect_uri}),
            expires_at=utcnow() + LIFETIME,
        ).save(condition=control.pk.does_not_exist())
        return state

    def consume(self, state: str | None, platform: Platform, user_id: str) -> PendingAuthorization:
        """The authorization `user_id` began with this state, removed so it cannot be used
        again. Missing, reused, expired, or another platform's or user's: OAuthStateInvalid
        (another user's state is left alone: a stranger cannot spend it either)."""
        if not state or len(state) > MAX_STATE_LENGTH:
            raise OAuthStateInvalid(details={"reason": "missing"})
        control = self._control
        try:
            item = control.get(f"oauth#{state}", consistent_read=True)
        except control.DoesNotExist as exc:
            raise OAuthStateInvalid(details={"reason": "unknown_or_used"}) from exc
        if item.user_id != user_id:
            raise OAuthStateInvalid(details={"reason": "other_user"})
        try:
            item.delete(condition=(control.payload == item.payload) & (control.user_id == user_id))
        except DeleteError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise OAuthStateInvalid(details={"reason": "unknown_or_used"}) from exc
            raise
        if item.expires_at is None or item.expires_at < utcnow():
            raise OAuthStateInvalid(details={"reason": "expired"})
        if item.platform != platform.value:
            raise OAuthStateInvalid(details={"reason": "other_platform"})
        try:
            stored = json.loads(item.payload)
            verifier = decrypt_with(self._cipher, stored["verifier"], _context(state, item.user_id, platform))
        except (TokenDecryptError, ValueError, KeyError, TypeError) as exc:
            raise OAuthStateInvalid(details={"reason": "tampered"}) from exc
        return PendingAuthorization(item.user_id, platform, verifier, str(stored["redirect_uri"]))


def _context(state: str, user_id: str, platform: Platform) -> TokenContext:
    return TokenContext(user_id=user_id, platform=platform.value, field=f"oauth-state:{state}")
