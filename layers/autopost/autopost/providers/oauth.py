"""OAuth pieces: PKCE, and what the console hands back after the platform's redirect."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from autopost.domain.models import Account, Credentials


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) as RFC 7636 defines them."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


@dataclass(frozen=True)
class OAuthGrant:
    """What came back from the platform, checked against our `state` first.

    An authorization code flow (VK ID) brings `code` (and VK ID's `device_id`), redeemed
    with our PKCE `verifier`; the implicit flow (VK's legacy oauth.vk.com) brings the
    `access_token` itself, read by the console from the redirect's fragment."""

    redirect_uri: str
    verifier: str
    code: str | None = None
    device_id: str | None = None
    access_token: SecretStr | None = None
    expires_in: int | None = None


class OAuthProvider(Protocol):
    def authorize_url(self, state: str, challenge: str, redirect_uri: str) -> str: ...

    def complete(self, grant: OAuthGrant) -> tuple[Credentials, Account]: ...
