"""Opaque pagination cursors: DynamoDB's LastEvaluatedKey, bound to the user who asked.

A cursor is base64 JSON with the owner inside; one made for another user, or tampered
with, is refused rather than used to read someone else's partition.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from autopost.domain.errors import InvalidCursor

MAX_KEY_PART = 1024


def encode_cursor(last_key: dict[str, Any] | None, owner: str) -> str | None:
    if not last_key:
        return None
    raw = json.dumps({"o": owner, "k": last_key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, owner: str, keys: frozenset[str]) -> dict[str, Any] | None:
    """The start key a cursor carries, after checking it is exactly the shape the query's
    key has (`keys`, each a short string) and is the owner's: anything else is a 400, never
    a start key DynamoDB would refuse with a server error."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor(details={"field": "cursor"}) from exc
    if not isinstance(data, dict) or data.get("o") != owner or not _well_formed(data.get("k"), keys, owner):
        raise InvalidCursor(details={"field": "cursor"})
    return data["k"]


def _well_formed(key: Any, names: frozenset[str], owner: str) -> bool:
    if not isinstance(key, dict) or set(key) != names:
        return False
    for value in key.values():
        if not isinstance(value, dict) or set(value) != {"S"}:
            return False
        if not isinstance(value["S"], str) or not 0 < len(value["S"]) <= MAX_KEY_PART:
            return False
    return "user_id" not in key or key["user_id"]["S"] == owner
