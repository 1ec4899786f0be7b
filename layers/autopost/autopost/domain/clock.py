"""Time in one place: aware UTC datetimes, and the ISO form we store (sortable as text)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def utcnow() -> datetime:
    """Now, to the millisecond: the precision we store, so what we return equals what we read."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# One form for every time we show: UTC, milliseconds, `Z` (as stored and sorted).
Timestamp = Annotated[datetime, PlainSerializer(to_iso, return_type=str, when_used="json")]


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
