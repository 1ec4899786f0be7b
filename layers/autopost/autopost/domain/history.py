"""A publication's story, read off the changes of its item.

Every writer of a publication (the API, the state machine's updateItem states, the worker)
changes one DynamoDB item; its stream carries each change with the item before and after.
`events_of` turns one such change into what a person would call events: created, started,
an attempt failed, waiting for the platform until T, retried, processing, published,
failed, cancelled. So the history needs no writer to remember to write it, and a change
made by the state machine is told as well as one made by our code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from autopost.domain.clock import Timestamp
from autopost.domain.models import Publication
from autopost.domain.platforms import Platform
from autopost.domain.publication_item import publication_of
from autopost.domain.statuses import PublicationStatus

SOURCE = "autopost"


class EventType(StrEnum):
    CREATED = "publication.created"
    STARTED = "publication.started"
    ATTEMPT_FAILED = "publication.attempt_failed"
    RATE_LIMITED = "publication.rate_limited"
    RETRIED = "publication.retried"
    # A post the platform took after the state machine had given up: the publication goes on.
    ADOPTED = "publication.adopted"
    PROCESSING = "publication.processing"
    PUBLISHED = "publication.published"
    FAILED = "publication.failed"
    CANCELLED = "publication.cancelled"


_BY_STATUS = {
    PublicationStatus.PUBLISHED: EventType.PUBLISHED,
    PublicationStatus.FAILED: EventType.FAILED,
    PublicationStatus.CANCELLED: EventType.CANCELLED,
}


class EventView(BaseModel):
    """One event as its publication's owner sees it (camelCase JSON)."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, defer_build=True)

    event_id: str
    type: EventType
    at: Timestamp
    publication_id: str
    clip_id: str
    platform: Platform
    status: PublicationStatus
    previous_status: PublicationStatus | None = None
    error_code: str | None = None
    error_message: str | None = None
    wait_until: Timestamp | None = None
    processing_state: str | None = None
    post_url: str | None = None
    retry: int | None = None
    scheduled_at: Timestamp | None = None


class PublicationEvent(EventView):
    """One event as stored, put on EventBridge and sent to webhooks: with its user."""

    user_id: str

    @property
    def detail_type(self) -> str:
        """EventBridge's detail-type: a change of status (a retry by hand is one), or
        progress within `publishing`."""
        return "Publication Status Changed" if self.status != self.previous_status else "Publication Progress"

    def to_detail(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def view(self) -> EventView:
        return EventView.model_validate(self.model_dump(exclude={"user_id"}))


def events_of(
    old_item: Mapping[str, Any] | None,
    new_item: Mapping[str, Any] | None,
    sequence: str,
    changed_at: datetime,
) -> list[PublicationEvent]:
    """The events one change of a publication item makes, in the order they happened.
    `sequence` is the change's stream sequence number (ids derive from it, so a change read
    twice makes the same events); `changed_at` is when the stream saw it."""
    old = publication_of(old_item) if old_item else None
    if new_item is None:
        return _removed(old, sequence, changed_at)
    new = publication_of(new_item)
    status = new.status
    before = old.status if old else None
    at = new.updated_at if old is None or old.updated_at != new.updated_at else changed_at
    found: list[tuple[EventType, dict[str, Any]]] = []
    if old is None:
        found.append((EventType.CREATED, {"scheduled_at": new.scheduled_at}))
    elif status is not before:
        if before is PublicationStatus.FAILED and new.adopted_at and old.adopted_at != new.adopted_at:
            found.append((EventType.ADOPTED, {}))
            if status is PublicationStatus.PUBLISHED:
                found.append((EventType.PUBLISHED, _outcome(new)))
        elif status is PublicationStatus.PUBLISHING:
            kind = EventType.RETRIED if before is PublicationStatus.FAILED else EventType.STARTED
            found.append((kind, {"retry": new.attempt if kind is EventType.RETRIED else None}))
        else:
            found.append((_BY_STATUS[status], _outcome(new)))
    elif status is PublicationStatus.PUBLISHING:
        found += _progress(old, new)
    return [
        PublicationEvent(
            event_id=_event_id(new.publication_id, sequence, index),
            type=kind,
            at=at,
            user_id=new.user_id,
            publication_id=new.publication_id,
            clip_id=new.clip_id,
            platform=new.platform,
            status=status,
            previous_status=before,
            **fields,
        )
        for index, (kind, fields) in enumerate(found)
    ]


def _removed(old: Publication | None, sequence: str, changed_at: datetime) -> list[PublicationEvent]:
    """A publication removed before its execution started (its request failed after the
    item was written): whoever heard it was created hears it will not be published."""
    if old is None or not old.status.is_active:
        return []
    return [
        PublicationEvent(
            event_id=_event_id(old.publication_id, sequence, 0),
            type=EventType.CANCELLED,
            at=changed_at,
            user_id=old.user_id,
            publication_id=old.publication_id,
            clip_id=old.clip_id,
            platform=old.platform,
            status=PublicationStatus.CANCELLED,
            previous_status=old.status,
        )
    ]


def _progress(old: Publication, new: Publication) -> list[tuple[EventType, dict[str, Any]]]:
    """What happened within `publishing`: a new attempt, the platform's processing, a wait
    it asked for, an attempt's failure."""
    found: list[tuple[EventType, dict[str, Any]]] = []
    if new.attempt_retry and new.attempt_retry > (old.attempt_retry or 0):
        found.append((EventType.RETRIED, {"retry": new.attempt_retry}))
    if (
        new.processing_state
        and new.processing_state != old.processing_state
        and new.post_id == old.post_id  # a post's first state is part of publishing it
    ):
        found.append((EventType.PROCESSING, {"processing_state": new.processing_state}))
    if new.retry_not_before and new.retry_not_before != old.retry_not_before:
        found.append((EventType.RATE_LIMITED, {"wait_until": new.retry_not_before}))
    if (new.attempt_errors or 0) > (old.attempt_errors or 0):
        found.append(
            (
                EventType.ATTEMPT_FAILED,
                {
                    "error_code": new.error_code,
                    "error_message": new.error_message,
                    "retry": new.attempt_retry or 0,
                },
            )
        )
    return found


def _outcome(new: Publication) -> dict[str, Any]:
    if new.status is PublicationStatus.PUBLISHED:
        return {"post_url": new.post_url}
    if new.status is PublicationStatus.FAILED:
        return {"error_code": new.error_code, "error_message": new.error_message}
    return {}


def _event_id(publication_id: str, sequence: str, index: int) -> str:
    digest = hashlib.sha256(f"{publication_id}:{sequence}:{index}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


# -- statistics over time -------------------------------------------------------------------

# Dense while a clip is new, sparser as it ages: (age up to, a sample every).
SAMPLING = (
    (timedelta(days=1), timedelta(hours=1)),
    (timedelta(days=7), timedelta(hours=6)),
    (timedelta(days=30), timedelta(days=1)),
)
SAMPLE_AFTER_30_DAYS = timedelta(days=7)


def next_sample(published_at: datetime, now: datetime) -> datetime:
    """When a publication's figures are next sampled: the first point of its sampling grid
    after `now`, the grid counted from its publication (so a late run does not shift it)."""
    age = now - published_at
    for limit, step in SAMPLING:
        if age < limit:
            return published_at + (age // step + 1) * step
    step = SAMPLE_AFTER_30_DAYS
    start = SAMPLING[-1][0]
    return published_at + start + ((age - start) // step + 1) * step
