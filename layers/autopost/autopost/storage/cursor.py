"""Opaque pagination cursors: DynamoDB's LastEvaluatedKey, bound to the user who asked.

A cursor is base64 JSON with the owner inside; one made for another user, or tampered
with, is refused rather than used to read someone else's partition.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from autopost.errors import InvalidRequest

INVALID_CURSOR = "Некорректный курсор страницы"


def encode_cursor(last_key: dict[str, Any] | None, owner: str) -> str | None:
    if not last_key:
        return None
    raw = json.dumps({"o": owner, "k": last_key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, owner: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(INVALID_CURSOR, {"field": "cursor"}) from exc
    if not isinstance(data, dict) or data.get("o") != owner or not isinstance(data.get("k"), dict):
        raise InvalidRequest(INVALID_CURSOR, {"field": "cursor"})
    return data["k"]
