"""OAuth pieces shared by the VK ID and Yandex (Дзен) providers."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from autopost.providers.base import Account, Credentials


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) as RFC 7636 defines them."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


@dataclass(frozen=True)
class CodeExchange:
    code: str
    verifier: str
    redirect_uri: str
    # VK ID returns a device_id with the code; refreshes must repeat it.
    device_id: str | None = None


class OAuthProvider(Protocol):
    def authorize_url(self, state: str, challenge: str, redirect_uri: str) -> str: ...

    def exchange_code(self, exchange: CodeExchange) -> tuple[Credentials, Account]: ...
