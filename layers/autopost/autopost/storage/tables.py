"""PynamoDB record classes: their attributes here, their tables at run time.

PynamoDB reads `Meta.table_name` when a class is defined; a table named at import would
freeze whatever the environment held then. So each record's attributes are a class here
(which the type checker reads), and `records(settings)` derives from it, once per
configured table, a class with its `Meta`. The attribute, key, index and TTL names here must
match template.yaml (tests/unit/test_template.py, `test_keys_indexes_and_ttl_match`, compares them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, TypeVar

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from autopost.infra.settings import Settings

_R = TypeVar("_R", bound=Model)


@dataclass(frozen=True)
class Records:
    clip: type[ClipRecord]
    publication: type[PublicationRecord]
    connection: type[ConnectionRecord]
    control: type[ControlRecord]
    history: type[HistoryRecord]
    webhook: type[WebhookRecord]


def _meta(table_name: str, settings: _Where) -> type:
    return type(
        "Meta",
        (),
        {
            "table_name": table_name,
            "region": settings.aws_region,
            "host": settings.aws_endpoint_url,
            "connect_timeout_seconds": settings.aws_timeout_seconds,
            "read_timeout_seconds": settings.aws_timeout_seconds,
            "max_retry_attempts": 3,
        },
    )


def _index_meta(name: str) -> type:
    return type("Meta", (), {"index_name": name, "projection": AllProjection()})


class ClipRecord(Model):
    user_id = UnicodeAttribute(hash_key=True)
    clip_id = UnicodeAttribute(range_key=True)
    key = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    size_bytes = NumberAttribute(null=True)
    content_type = UnicodeAttribute(null=True)
    duration_seconds = NumberAttribute(null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    # S3's per-key event order; a replayed or older event must not overwrite a newer one.
    sequencer = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class ByUserIndex(GlobalSecondaryIndex):
    Meta = _index_meta("by_user")
    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class StatsDueIndex(GlobalSecondaryIndex):
    """Sparse: only published publications of platforms with statistics are in it."""

    Meta = _index_meta("by_stats_due")
    stats_shard = UnicodeAttribute(hash_key=True)
    stats_due_at = UnicodeAttribute(range_key=True)


class PublicationRecord(Model):
    publication_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    clip_id = UnicodeAttribute()
    clip_key = UnicodeAttribute()
    platform = UnicodeAttribute()
    status = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    scheduled_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    attempt = NumberAttribute(default=0)
    execution_name = UnicodeAttribute()
    error_code = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    # VK: "clip" or "video" as asked, and what VK made of it.
    format = UnicodeAttribute(null=True)
    published_as = UnicodeAttribute(null=True)
    post_id = UnicodeAttribute(null=True)
    post_url = UnicodeAttribute(null=True)
    # The platform's own state of the video ("VK обрабатывает клип: 40%", "ready").
    processing_state = UnicodeAttribute(null=True)
    processing_since = UnicodeAttribute(null=True)
    published_at = UnicodeAttribute(null=True)
    # Where a former attempt left the upload (provider-specific JSON): video id, offset.
    upload_checkpoint = UnicodeAttribute(null=True)
    # The attempt working on the upload now, and until when (its Lambda's deadline): two
    # attempts (a timed-out one still running, a redelivered message) never overlap.
    attempt_owner = UnicodeAttribute(null=True)
    attempt_until = UnicodeAttribute(null=True)
    # The state machine's retry the attempt working now belongs to (0 for the first), and
    # how many attempts have failed: the history tells each retry and failure from them.
    attempt_retry = NumberAttribute(null=True)
    attempt_errors = NumberAttribute(null=True)
    # The message the last attempt came from (when the state machine sent it): on a task
    # timeout the state machine tells a message still in our queue from one worked on.
    attempt_dispatch = UnicodeAttribute(null=True)
    # When a post made after the state machine had given up was adopted.
    adopted_at = UnicodeAttribute(null=True)
    # Until when a platform asked us to wait (ISO time; the state machine's Wait reads it).
    retry_not_before = UnicodeAttribute(null=True)
    # Statistics: "{platform}#{0-9}" while due for syncing, the next sync time, the figures.
    stats_shard = UnicodeAttribute(null=True)
    stats_due_at = UnicodeAttribute(null=True)
    stats: MapAttribute[str, Any] = MapAttribute(null=True)
    stats_synced_at = UnicodeAttribute(null=True)
    by_user = ByUserIndex()
    by_stats_due = StatsDueIndex()


class ConnectionRecord(Model):
    user_id = UnicodeAttribute(hash_key=True)
    platform = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    account_id = UnicodeAttribute()
    account_name = UnicodeAttribute(default="")
    expires_at = UnicodeAttribute(null=True)
    connected_at = UnicodeAttribute()
    # Ciphertexts only (autopost.infra.crypto): {"access": ..., "refresh": ...}; never plain tokens.
    tokens: MapAttribute[str, Any] = MapAttribute(null=True)
    # Not secret: VK ID's device_id, a Telegram channel and chat id.
    extra: MapAttribute[str, Any] = MapAttribute(null=True)
    # The tokens' grant (autopost.domain.models.Connection.generation); absent on older rows: 0.
    generation = NumberAttribute(null=True)
    version = VersionAttribute()


class ControlRecord(Model):
    """Small bookkeeping items: active-publication guards, rate-limit windows, OAuth
    states, rotation checkpoints."""

    pk = UnicodeAttribute(hash_key=True)
    publication_id = UnicodeAttribute(null=True)
    hits = NumberAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    platform = UnicodeAttribute(null=True)
    # Encrypted (autopost.infra.crypto) or otherwise opaque: a PKCE verifier, a scan position.
    payload = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class HistoryRecord(Model):
    """A publication's story: `event#{at}#{sequence}#{n}` items (what happened, in order)
    and `stats#{at}` items (its figures over time)."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    at = UnicodeAttribute()
    # An event's JSON (autopost.domain.history.PublicationEvent); a sample's figures.
    payload = UnicodeAttribute(null=True)
    views = NumberAttribute(null=True)
    likes = NumberAttribute(null=True)
    comments = NumberAttribute(null=True)
    reposts = NumberAttribute(null=True)


class WebhookRecord(Model):
    """Webhook endpoints (`user#{user}` / `endpoint#{id}`) and their recent deliveries
    (`endpoint#{id}` / `delivery#{at}#{event}`, expiring)."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    user_id = UnicodeAttribute(null=True)
    # JSON: an endpoint's url and event types, or a delivery's outcome.
    payload = UnicodeAttribute(null=True)
    # Encrypted (autopost.infra.crypto): the endpoint's signing secret.
    secret = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


@dataclass(frozen=True)
class _Where:
    """The hashable part of the settings that decides which tables the records talk to."""

    clips_table: str
    publications_table: str
    connections_table: str
    control_table: str
    history_table: str
    webhooks_table: str
    aws_region: str
    aws_endpoint_url: str | None
    aws_timeout_seconds: float


def records(settings: Settings) -> Records:
    return _records(
        _Where(
            settings.clips_table,
            settings.publications_table,
            settings.connections_table,
            settings.control_table,
            settings.history_table,
            settings.webhooks_table,
            settings.aws_region,
            settings.aws_endpoint_url,
            settings.aws_timeout_seconds,
        )
    )


@functools.cache
def _records(where: _Where) -> Records:
    return Records(
        clip=_bound(ClipRecord, where.clips_table, where),
        publication=_bound(PublicationRecord, where.publications_table, where),
        connection=_bound(ConnectionRecord, where.connections_table, where),
        control=_bound(ControlRecord, where.control_table, where),
        history=_bound(HistoryRecord, where.history_table, where),
        webhook=_bound(WebhookRecord, where.webhooks_table, where),
    )


def _bound(record: type[_R], table_name: str, where: _Where) -> type[_R]:
    """The record's class bound to one table (PynamoDB copies its indexes onto it)."""
    return type(record.__name__, (record,), {"Meta": _meta(table_name, where)})


def transactions(settings: Settings) -> Connection:
    """The low-level connection PynamoDB transactions need, with the same timeouts as records."""
    return Connection(
        region=settings.aws_region,
        host=settings.aws_endpoint_url,
        read_timeout_seconds=settings.aws_timeout_seconds,
        connect_timeout_seconds=settings.aws_timeout_seconds,
        max_retry_attempts=3,
    )
