"""One change of a publication (a DynamoDB stream record) -> its history, its events on
EventBridge, and the outcome metrics the failed-publication alarms watch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from autopost.domain.errors import EventsNotDelivered
from autopost.domain.history import SOURCE, EventType, PublicationEvent, events_of
from autopost.infra.aws import client
from autopost.infra.observability import NAMESPACE, SERVICE
from autopost.infra.settings import Settings
from autopost.storage.history import HistoryRepository

# PutEvents takes at most ten entries.
_PUT_BATCH = 10
_OUTCOMES = {EventType.PUBLISHED: "published", EventType.FAILED: "failed"}


class EventPublisher:
    def __init__(self, settings: Settings, history: HistoryRepository, events: Any) -> None:
        self._bus = settings.event_bus_name
        self._history = history
        self._events = events

    def handle(
        self,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        sequence: str,
        seen_at: int | None,
    ) -> list[PublicationEvent]:
        """Stored first, then put on the bus: a failure anywhere fails the record, and the
        stream gives it again (the same ids: storing is idempotent, receivers deduplicate).
        Outcomes are counted when first stored, so a retried batch never counts twice."""
        changed_at = datetime.fromtimestamp(seen_at, UTC) if seen_at else datetime.now(UTC)
        found = events_of(old, new, sequence, changed_at)
        if not found:
            return found
        first_time = self._history.add_events(sequence, found)
        for event in first_time:
            if event.type in _OUTCOMES:
                _count_outcome(event)
        self._put(found)
        return found

    def _put(self, found: Sequence[PublicationEvent]) -> None:
        for start in range(0, len(found), _PUT_BATCH):
            entries = [
                {
                    "Source": SOURCE,
                    "DetailType": event.detail_type,
                    "Detail": json.dumps(event.to_detail(), ensure_ascii=False),
                    "Resources": [],
                    "EventBusName": self._bus,
                    "Time": event.at,
                }
                for event in found[start : start + _PUT_BATCH]
            ]
            answer = self._events.put_events(Entries=entries)
            if answer.get("FailedEntryCount"):
                entries = answer.get("Entries", [])
                codes = sorted({e["ErrorCode"] for e in entries if e.get("ErrorCode")})
                raise EventsNotDelivered(details={"errors": codes})


def _count_outcome(event: PublicationEvent) -> None:
    """Per platform and outcome, for the failed-publication-rate alarms (template.yaml)."""
    with single_metric(
        name="PublicationsFinished",
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="platform", value=event.platform.value)
        metric.add_dimension(name="outcome", value=_OUTCOMES[event.type])


def publication_events_from_settings(settings: Settings) -> EventPublisher:
    return EventPublisher(settings, HistoryRepository(settings), client("events"))
