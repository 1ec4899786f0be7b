"""Each publication's story in the history table: its events in the order they happened
(`event#{sequence}#{n}`, the stream's order) and its figures over time (`stats#{at}`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pynamodb.exceptions import PutError

from autopost.domain.clock import from_iso, to_iso
from autopost.domain.history import PublicationEvent
from autopost.infra.settings import Settings
from autopost.storage.tables import records

STATS_FIELDS = ("views", "likes", "comments", "reposts")
# Stream sequence numbers are decimal strings of up to 40 digits: padded, they sort as numbers.
_SEQUENCE_WIDTH = 40


class HistoryRepository:
    def __init__(self, settings: Settings) -> None:
        self._record = records(settings).history

    def add_events(self, sequence: str, events: Sequence[PublicationEvent]) -> list[PublicationEvent]:
        """Store what is not stored yet; the events this call stored. The same change read
        again (a retried batch) stores nothing, and whatever counts once counts on these."""
        stored = []
        for index, event in enumerate(events):
            item = self._record(
                event.publication_id,
                f"event#{sequence.zfill(_SEQUENCE_WIDTH)}#{index:02d}",
                at=to_iso(event.at),
                payload=event.model_dump_json(by_alias=True),
            )
            try:
                item.save(condition=self._record.sk.does_not_exist())
            except PutError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                continue
            stored.append(event)
        return stored

    def events(self, publication_id: str) -> list[PublicationEvent]:
        items = self._record.query(publication_id, self._record.sk.startswith("event#"))
        return [PublicationEvent.model_validate_json(item.payload) for item in items]

    def add_samples(self, samples: Iterable[tuple[str, datetime, dict[str, int | None]]]) -> None:
        with self._record.batch_write() as batch:
            for publication_id, at, figures in samples:
                batch.save(
                    self._record(
                        publication_id,
                        f"stats#{to_iso(at)}",
                        at=to_iso(at),
                        views=figures.get("views"),
                        likes=figures.get("likes"),
                        comments=figures.get("comments"),
                        reposts=figures.get("reposts"),
                    )
                )

    def samples(self, publication_id: str) -> list[tuple[datetime, dict[str, int | None]]]:
        items = self._record.query(publication_id, self._record.sk.startswith("stats#"))
        return [
            (
                from_iso(item.at),
                {
                    name: int(value) if (value := getattr(item, name)) is not None else None
                    for name in STATS_FIELDS
                },
            )
            for item in items
        ]
