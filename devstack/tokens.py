"""Local sign-in: HS256 JWTs with a secret kept in .local/, checked by the local gateway
the way API Gateway's JWT authorizer checks issuer, audience and expiry."""

from __future__ import annotations

import secrets
import time

import jwt

from devstack.template import ROOT

STATE = ROOT / ".local"
AUDIENCE = "autopost-local"
ISSUER = "https://autopost.local/issuer"


def _secret() -> str:
    path = STATE / "jwt-secret"
    if not path.exists():
        STATE.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def mint(user: str, plan: str = "pro", lifetime: int = 12 * 3600) -> str:
    now = int(time.time())
    claims = {"sub": user, "plan": plan, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, _secret(), algorithm="HS256")


def verify(token: str) -> dict:
    """The claims, or jwt.InvalidTokenError."""
    return jwt.decode(token, _secret(), algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
