"""API Gateway HTTP API (payload format 2.0) events, as the JWT authorizer passes them on."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    user: str | None = "user-1",
    plan: str | None = "pro",
    query: dict[str, str] | None = None,
    base64_body: bool = False,
    base64_already: bool = False,
    route_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`base64_already`: `raw_body` is base64 of bytes that need not be text (API Gateway
    sends a body that is not UTF-8 that way)."""
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if text is not None and base64_body:
        text = base64.b64encode(text.encode()).decode()
    base64_body = base64_body or base64_already
    claims: dict[str, Any] = {}
    if user is not None:
        claims = {
            "sub": user,
            "iss": "https://issuer.local",
            "aud": "autopost",
            "exp": str(int(time.time()) + 600),
        }
        if plan is not None:
            claims["plan"] = plan
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {
            "content-type": "application/json",
            "host": "api.local",
            "x-correlation-id": str(uuid.uuid4()),
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "api.local",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": "29/Nov/2026:12:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = query
    if claims:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if text is not None:
        event["body"] = text
    return event
