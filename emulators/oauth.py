"""The consent page and authorization codes of the VK emulator's OAuth flows."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from emulators.http import Request, Response


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    user_id: int
    code_challenge: str | None
    expires_at: float
    scope: str = ""


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def consent_page(platform: str, request: Request, approve_path: str) -> Response:
    """What the user sees at the platform: approve as the emulator's user, or deny."""
    approve = f"{approve_path}?{urlencode(request.query)}"
    deny = f"{approve_path}?{urlencode({**request.query, 'deny': '1'})}"
    return Response.html(
        f"""<!doctype html><html lang="ru"><meta charset="utf-8"><title>{platform}: вход</title>
<body><h1>{html.escape(platform)}</h1><p>Приложение запрашивает доступ к видео.</p>
<a id="approve" href="{html.escape(approve)}">Разрешить</a>
<a id="deny" href="{html.escape(deny)}">Отмена</a></body></html>"""
    )


def new_code(grants: dict[str, Grant], request: Request, user_id: int) -> str:
    code = secrets.token_urlsafe(24)
    grants[code] = Grant(
        client_id=request.query.get("client_id", ""),
        redirect_uri=request.query.get("redirect_uri", ""),
        user_id=user_id,
        code_challenge=request.query.get("code_challenge"),
        expires_at=time.time() + 600,
        scope=request.query.get("scope", ""),
    )
    return code


def redeem(
    grants: dict[str, Grant], code: str, client_id: str, redirect_uri: str | None, verifier: str | None
) -> Grant | str:
    """The grant, or the OAuth error description."""
    grant = grants.pop(code, None)
    if grant is None or grant.expires_at < time.time():
        return "Code is invalid or expired"
    if grant.client_id != client_id:
        return "Client mismatch"
    if redirect_uri is not None and grant.redirect_uri != redirect_uri:
        return "Redirect URI mismatch"
    if grant.code_challenge is not None and (verifier is None or s256(verifier) != grant.code_challenge):
        return "PKCE verification failed"
    return grant
