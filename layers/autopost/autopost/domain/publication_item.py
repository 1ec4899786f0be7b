"""A publication as its DynamoDB item holds it: the one codec every reader and writer uses.

Storage reads its records through `publication_of` and writes a new one from `item_of`; the
history reads the stream's images (the item before and after each change) through
`publication_of` too, so a field is spelled here and in the table's record class
(`storage/tables.py`) and nowhere else (`tests/unit/test_publication_item.py` holds the two
together). The state machine writes only `status`, `error_code`, `error_message` and
`updated_at`, and reads `retry_not_before` (`tests/unit/test_state_machine_transitions.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from autopost.domain.clock import from_iso, to_iso
from autopost.domain.models import Publication

# Attributes that coordinate workers or feed an index: kept on the item, not the publication's.
COORDINATION = frozenset(
    {"attempt_owner", "attempt_until", "attempt_dispatch", "stats_shard", "stats_due_at"}
)
TIMES = frozenset(
    {
        "scheduled_at",
        "created_at",
        "updated_at",
        "processing_since",
        "published_at",
        "stats_synced_at",
        "adopted_at",
        "retry_not_before",
    }
)
NUMBERS = frozenset({"attempt", "attempt_retry", "attempt_errors"})


def publication_of(item: Mapping[str, Any]) -> Publication:
    """The publication an item holds: plain values (a PynamoDB record's, or a stream image
    deserialized, where numbers are Decimal and maps are dicts)."""
    values: dict[str, Any] = {}
    for name, value in item.items():
        if value is None or name in COORDINATION:
            continue
        if name in TIMES:
            value = from_iso(str(value))
        elif name in NUMBERS:
            value = int(value)
        elif name == "upload_checkpoint":
            value = json.loads(value)
        elif name == "stats":
            value = {k: _figure(v) for k, v in dict(value).items()}
        values[name] = value
    return Publication.model_validate(values)


def item_of(publication: Publication) -> dict[str, Any]:
    """The attributes a new publication's item starts with (what the API creates)."""
    return {
        "user_id": publication.user_id,
        "clip_id": publication.clip_id,
        "clip_key": publication.clip_key,
        "platform": publication.platform.value,
        "status": publication.status.value,
        "title": publication.title,
        "description": publication.description,
        "scheduled_at": to_iso(publication.scheduled_at) if publication.scheduled_at else None,
        "created_at": to_iso(publication.created_at),
        "updated_at": to_iso(publication.updated_at),
        "attempt": publication.attempt,
        "execution_name": publication.execution_name,
        "format": publication.format.value if publication.format else None,
    }


def _figure(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float | Decimal) else None
