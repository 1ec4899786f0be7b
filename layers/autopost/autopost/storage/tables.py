"""PynamoDB record classes, built per table name at run time.

PynamoDB reads `Meta.table_name` when a class is defined; defining records at import would
freeze whatever the environment held then. `records(settings)` builds the classes for the
configured tables once and caches them. The attribute, key, index and TTL names here must
match template.yaml (tests/unit/test_template.py, `test_keys_indexes_and_ttl_match`, compares them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Records:
    clip: type[Model]
    publication: type[Model]
    connection: type[Model]
    control: type[Model]
    history: type[Model]
    webhook: type[Model]


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


def _clip_record(settings: _Where) -> type[Model]:
    class ClipRecord(Model):
        Meta = _meta(settings.clips_table, settings)
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

    return ClipRecord


def _publication_record(settings: _Where) -> type[Model]:
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
        Meta = _meta(settings.publications_table, settings)
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
        stats = MapAttribute(null=True)
        stats_synced_at = UnicodeAttribute(null=True)
        by_user = ByUserIndex()
        by_stats_due = StatsDueIndex()

    return PublicationRecord


def _connection_record(settings: _Where) -> type[Model]:
    class ConnectionRecord(Model):
        Meta = _meta(settings.connections_table, settings)
        user_id = UnicodeAttribute(hash_key=True)
        platform = UnicodeAttribute(range_key=True)
        status = UnicodeAttribute()
        account_id = UnicodeAttribute()
        account_name = UnicodeAttribute(default="")
        expires_at = UnicodeAttribute(null=True)
        connected_at = UnicodeAttribute()
        # Ciphertexts only (autopost.infra.crypto): {"access": ..., "refresh": ...}; never plain tokens.
        tokens = MapAttribute(null=True)
        # Not secret: VK ID's device_id, a Telegram channel and chat id.
        extra = MapAttribute(null=True)
        # The tokens' grant (autopost.domain.models.Connection.generation); absent on older rows: 0.
        generation = NumberAttribute(null=True)
        version = VersionAttribute()

    return ConnectionRecord


def _control_record(settings: _Where) -> type[Model]:
    class ControlRecord(Model):
        """Small bookkeeping items: active-publication guards, rate-limit windows, OAuth
        states, rotation checkpoints."""

        Meta = _meta(settings.control_table, settings)
        pk = UnicodeAttribute(hash_key=True)
        publication_id = UnicodeAttribute(null=True)
        hits = NumberAttribute(null=True)
        user_id = UnicodeAttribute(null=True)
        platform = UnicodeAttribute(null=True)
        # Encrypted (autopost.infra.crypto) or otherwise opaque: a PKCE verifier, a scan position.
        payload = UnicodeAttribute(null=True)
        expires_at = TTLAttribute(null=True)

    return ControlRecord


def _history_record(settings: _Where) -> type[Model]:
    class HistoryRecord(Model):
        """A publication's story: `event#{at}#{sequence}#{n}` items (what happened, in order)
        and `stats#{at}` items (its figures over time)."""

        Meta = _meta(settings.history_table, settings)
        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        at = UnicodeAttribute()
        # An event's JSON (autopost.domain.history.PublicationEvent); a sample's figures.
        payload = UnicodeAttribute(null=True)
        views = NumberAttribute(null=True)
        likes = NumberAttribute(null=True)
        comments = NumberAttribute(null=True)
        reposts = NumberAttribute(null=True)

    return HistoryRecord


def _webhook_record(settings: _Where) -> type[Model]:
    class WebhookRecord(Model):
        """Webhook endpoints (`user#{user}` / `endpoint#{id}`) and their recent deliveries
        (`endpoint#{id}` / `delivery#{at}#{event}`, expiring)."""

        Meta = _meta(settings.webhooks_table, settings)
        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        user_id = UnicodeAttribute(null=True)
        # JSON: an endpoint's url and event types, or a delivery's outcome.
        payload = UnicodeAttribute(null=True)
        # Encrypted (autopost.infra.crypto): the endpoint's signing secret.
        secret = UnicodeAttribute(null=True)
        created_at = UnicodeAttribute(null=True)
        expires_at = TTLAttribute(null=True)

    return WebhookRecord


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
        clip=_clip_record(where),
        publication=_publication_record(where),
        connection=_connection_record(where),
        control=_control_record(where),
        history=_history_record(where),
        webhook=_webhook_record(where),
    )


def transactions(settings: Settings) -> Connection:
    """The low-level connection PynamoDB transactions need, with the same timeouts as records."""
    return Connection(
        region=settings.aws_region,
        host=settings.aws_endpoint_url,
        read_timeout_seconds=settings.aws_timeout_seconds,
        connect_timeout_seconds=settings.aws_timeout_seconds,
        max_retry_attempts=3,
    )
