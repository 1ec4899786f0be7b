"""Publications and the guard that keeps one active publication per clip and platform.

The guard is a control item `active#{user}#{clip}#{platform}` naming the publication that
last took the slot. Taking it is a transaction: the guard is written only if it is absent,
or still names the holder we read *and* that holder is in a final status. So concurrent
requests for the same clip and platform cannot both win, and a guard never needs releasing:
a final publication gives up its slot by being final.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from autopost.domain.clock import from_iso, to_iso, utcnow
from autopost.domain.errors import AlreadyPublished, DuplicatePublication, PublicationNotFound
from autopost.domain.models import Publication
from autopost.domain.platforms import Platform
from autopost.domain.publication_item import item_of, publication_of
from autopost.domain.statuses import ACTIVE_STATUSES, PublicationStatus, ensure_transition
from autopost.infra.settings import Settings
from autopost.storage.cursor import decode_cursor, encode_cursor
from autopost.storage.errors import PublicationChanged
from autopost.storage.tables import records, transactions

# Contention on a guard that turned final between our read and our write: read again.
_GUARD_ATTEMPTS = 3
_FINAL = [s.value for s in PublicationStatus if s not in ACTIVE_STATUSES]
# What a new publication may replace without asking for a repost: not a published one.
_REPLACEABLE = [PublicationStatus.FAILED.value, PublicationStatus.CANCELLED.value]
STATS_WRITERS = 8
# A page of the by_user index ends at a key with the table's and the index's attributes.
CURSOR_KEYS = frozenset({"publication_id", "user_id", "created_at"})


def guard_key(user_id: str, clip_id: str, platform: Platform | str) -> str:
    return f"active#{user_id}#{clip_id}#{Platform(platform).value}"


class PublicationRepository:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        tables = records(settings)
        self._record = tables.publication
        self._control = tables.control

    # -- reads --------------------------------------------------------------------------

    def get(self, publication_id: str) -> Publication | None:
        try:
            return _to_publication(self._record.get(publication_id, consistent_read=True))
        except self._record.DoesNotExist:
            return None

    def get_for_user(self, user_id: str, publication_id: str) -> Publication:
        publication = self.get(publication_id)
        if publication is None or publication.user_id != user_id:
            raise PublicationNotFound(details={"publicationId": publication_id})
        return publication

    def list_for_user(
        self,
        user_id: str,
        *,
        clip_id: str | None = None,
        status: PublicationStatus | None = None,
        platform: Platform | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[Publication], str | None]:
        record = self._record
        condition = None
        for attribute, value in (
            (record.clip_id, clip_id),
            (record.status, status),
            (record.platform, platform),
        ):
            if value is not None:
                term = attribute == str(value)
                condition = term if condition is None else condition & term
        page = record.by_user.query(
            user_id,
            filter_condition=condition,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=decode_cursor(cursor, owner=user_id, keys=CURSOR_KEYS),
        )
        items = [_to_publication(item) for item in page]
        next_key = page.last_evaluated_key if len(items) == limit else None
        return items, encode_cursor(next_key, owner=user_id)

    def scheduled_for(self, user_id: str, platform: Platform) -> list[Publication]:
        """Every `scheduled` publication of a user on a platform (all pages)."""
        record = self._record
        condition = (record.status == PublicationStatus.SCHEDULED.value) & (record.platform == platform.value)
        return [_to_publication(item) for item in record.by_user.query(user_id, filter_condition=condition)]

    # -- writes -------------------------------------------------------------------------

    def create(self, publications: Sequence[Publication], allow_republish: bool = False) -> None:
        """Store all publications or none. DuplicatePublication names the platforms where the
        clip is being published; AlreadyPublished the ones where it was (unless reposting).
        The guard's condition makes both hold under any concurrency."""
        replaceable = _FINAL if allow_republish else _REPLACEABLE
        for _ in range(_GUARD_ATTEMPTS):
            holders = self._guard_holders(publications)
            held = [h for p in publications if (h := self._holder(holders.get(_guard_of(p)))) is not None]
            busy = [h.platform.value for h in held if h.status.is_active]
            if busy:
                raise DuplicatePublication(details={"platforms": busy})
            done = [h for h in held if h.status is PublicationStatus.PUBLISHED]
            if done and not allow_republish:
                raise AlreadyPublished(done)
            try:
                with TransactWrite(connection=transactions(self._settings)) as tx:
                    for publication in publications:
                        self._take_guard(
                            tx, publication, holders.get(_guard_of(publication)), replaceable=replaceable
                        )
                        tx.save(
                            self._to_record(publication),
                            condition=self._record.publication_id.does_not_exist(),
                        )
                return
            except TransactWriteError as exc:
                if not _conditions_failed(exc):
                    raise
        raise DuplicatePublication(details={"platforms": [p.platform.value for p in publications]})

    def retry(self, publication: Publication, execution_name: str, adopted: bool = False) -> Publication:
        """failed -> publishing for a manual retry, taking the clip/platform slot again; or,
        `adopted`, to go on with a post the platform took after the state machine gave up."""
        ensure_transition(publication.status, PublicationStatus.PUBLISHING)
        record = self._record
        for _ in range(_GUARD_ATTEMPTS):
            holder = self._guard_holders([publication]).get(_guard_of(publication))
            if holder and holder != publication.publication_id and self._is_active(holder):
                raise DuplicatePublication(details={"platforms": [publication.platform.value]})
            now = to_iso(utcnow())
            try:
                with TransactWrite(connection=transactions(self._settings)) as tx:
                    self._take_guard(tx, publication, holder, holder_may_be_self=True)
                    tx.update(
                        record(publication.publication_id),
                        actions=[
                            record.status.set(PublicationStatus.PUBLISHING.value),
                            record.attempt.set(publication.attempt + 1),
                            record.execution_name.set(execution_name),
                            record.updated_at.set(now),
                            record.error_code.remove(),
                            record.error_message.remove(),
                            record.processing_since.remove(),
                            *([record.adopted_at.set(now)] if adopted else []),
                        ],
                        condition=(record.status == PublicationStatus.FAILED.value)
                        & (record.attempt == publication.attempt),
                    )
                break
            except TransactWriteError as exc:
                if not _conditions_failed(exc):
                    raise
                current = self.get(publication.publication_id)
                if current is None or current.status is not PublicationStatus.FAILED:
                    raise PublicationChanged(status=current.status.value if current else None) from exc
        else:
            raise DuplicatePublication(details={"platforms": [publication.platform.value]})
        return self.get_for_user(publication.user_id, publication.publication_id)

    def transition(
        self,
        publication_id: str,
        expected: PublicationStatus,
        target: PublicationStatus,
        **changes: Any,
    ) -> Publication:
        """Move one publication from `expected` to `target`, or raise PublicationChanged."""
        ensure_transition(expected, target)
        record = self._record
        actions: list[Action] = [record.status.set(target.value), record.updated_at.set(to_iso(utcnow()))]
        for name, value in changes.items():
            attribute = getattr(record, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        item = record(publication_id)
        try:
            item.update(
                actions=actions,
                condition=record.publication_id.exists() & (record.status == expected.value),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise PublicationChanged(publicationId=publication_id, expected=expected.value) from exc
            raise
        return _to_publication(item)

    # -- statistics -----------------------------------------------------------------------

    def due_for_stats(
        self, shard: str, now: datetime, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[Publication], dict[str, Any] | None]:
        """Published publications of one stats shard whose sync is due (an index query)."""
        record = self._record
        page = record.by_stats_due.query(
            shard,
            range_key_condition=record.stats_due_at <= to_iso(now),
            limit=limit,
            last_evaluated_key=start,
        )
        items = [_to_publication(item) for item in page]
        return items, page.last_evaluated_key if len(items) == limit else None

    def record_stats(
        self, figures: Sequence[tuple[str, dict[str, int | None], datetime]], synced_at: datetime
    ) -> None:
        """Write figures back, a batch of conditional updates at a time, in parallel. Not a
        transaction: the figures need no atomicity, and a transaction costs twice the writes."""
        record = self._record

        def write(entry: tuple[str, dict[str, int | None], datetime]) -> None:
            publication_id, stats, due = entry
            with contextlib.suppress(UpdateError):  # no longer published: nothing to record
                record(publication_id).update(
                    actions=_stats_actions(record, stats, due, synced_at), condition=_published(record)
                )

        with ThreadPoolExecutor(max_workers=STATS_WRITERS) as pool:
            for start in range(0, len(figures), 100):
                list(pool.map(write, figures[start : start + 100]))

    def defer_stats(self, publication_ids: Iterable[str], due: datetime) -> None:
        """Not synced this time (the connection failed): try again at `due`, not at once."""
        record = self._record
        for publication_id in publication_ids:
            with contextlib.suppress(UpdateError):
                record(publication_id).update(
                    actions=[record.stats_due_at.set(to_iso(due))], condition=_published(record)
                )

    def save_checkpoint(self, publication_id: str, checkpoint: dict[str, Any]) -> None:
        """Where the upload stands, so the next attempt resumes or reuses it."""
        record = self._record
        record(publication_id).update(
            actions=[record.upload_checkpoint.set(json.dumps(checkpoint, sort_keys=True))],
            condition=record.publication_id.exists(),
        )

    def take_attempt(
        self, publication_id: str, owner: str, until: datetime, retry: int = 0, dispatch: str = ""
    ) -> datetime | None:
        """Hold the publication's upload for one attempt (of the state machine's `retry`, from
        the message it sent at `dispatch`) until `until`. None when taken; else until when
        another attempt holds it. Only a `publishing` publication is held."""
        record, now = self._record, to_iso(utcnow())
        actions: list[Action] = [
            record.attempt_owner.set(owner),
            record.attempt_until.set(to_iso(until)),
            record.attempt_retry.set(retry),
        ]
        if dispatch:
            actions.append(record.attempt_dispatch.set(dispatch))
        try:
            record(publication_id).update(
                actions=actions,
                condition=(record.status == PublicationStatus.PUBLISHING.value)
                & (record.attempt_until.does_not_exist() | (record.attempt_until < now)),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            try:
                current = record.get(publication_id, consistent_read=True)
            except record.DoesNotExist:
                current = None
            if current is None or current.status != PublicationStatus.PUBLISHING.value:
                raise PublicationChanged(publicationId=publication_id) from exc
            return from_iso(current.attempt_until) if current.attempt_until else utcnow()
        return None

    def release_attempt(self, publication_id: str, owner: str) -> None:
        """Give the upload back, if this attempt still holds it."""
        record = self._record
        with contextlib.suppress(UpdateError):
            record(publication_id).update(
                actions=[record.attempt_owner.remove(), record.attempt_until.remove()],
                condition=record.attempt_owner == owner,
            )

    def record_post(
        self,
        publication_id: str,
        post_id: str,
        url: str | None,
        processing_state: str | None,
        published_as: str | None = None,
    ) -> None:
        """The platform's post, written the moment it answers and whatever the status is
        now: a later attempt that finds a post id finishes instead of posting again."""
        record = self._record
        actions: list[Action] = [record.post_id.set(post_id), record.updated_at.set(to_iso(utcnow()))]
        actions.append(record.post_url.set(url) if url else record.post_url.remove())
        if processing_state:
            actions.append(record.processing_state.set(processing_state))
        if published_as:
            actions.append(record.published_as.set(published_as))
        record(publication_id).update(actions=actions, condition=record.publication_id.exists())

    def record_processing(self, publication_id: str, state: str) -> datetime:
        """What the platform says while it processes the clip; the time it first said so
        (kept across checks: the state machine gives up after a cap from it)."""
        record, now = self._record, to_iso(utcnow())
        item = record(publication_id)
        try:
            item.update(
                actions=[
                    record.processing_state.set(state),
                    record.processing_since.set(record.processing_since | now),
                    record.updated_at.set(now),
                ],
                condition=record.status == PublicationStatus.PUBLISHING.value,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise PublicationChanged(publicationId=publication_id) from exc
            raise
        return from_iso(item.processing_since)

    def record_wait(self, publication_id: str, until: datetime) -> None:
        """A platform's retry-after: shown in the history, and for a long wait read by the
        state machine's Wait (ReadRateLimit)."""
        record = self._record
        # Whole seconds with a Z: the form the state machine's TimestampPath accepts everywhere.
        stamp = until.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            record(publication_id).update(
                actions=[record.retry_not_before.set(stamp)],
                condition=record.status == PublicationStatus.PUBLISHING.value,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise PublicationChanged(publicationId=publication_id) from exc
            raise

    def record_attempt_error(self, publication_id: str, code: str, message: str) -> None:
        """The last attempt's error, in the user's words, while the publication is still
        `publishing`: shown during retries, and kept when the state machine fails it."""
        record = self._record
        try:
            record(publication_id).update(
                actions=[
                    record.error_code.set(code),
                    record.error_message.set(message),
                    record.updated_at.set(to_iso(utcnow())),
                    record.attempt_errors.add(1),
                ],
                condition=record.status == PublicationStatus.PUBLISHING.value,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise PublicationChanged(publicationId=publication_id) from exc
            raise

    def delete_unstarted(self, publications: Iterable[Publication]) -> None:
        """Remove publications whose execution never started (the guard then names a
        missing publication, which `_is_active` treats as free)."""
        for publication in publications:
            self._record(publication.publication_id).delete()

    # -- guard helpers ------------------------------------------------------------------

    def _guard_holders(self, publications: Iterable[Publication]) -> dict[str, str]:
        keys = {_guard_of(p) for p in publications}
        return {
            item.pk: item.publication_id
            for item in self._control.batch_get(list(keys), consistent_read=True)
            if item.publication_id
        }

    def _holder(self, publication_id: str | None) -> Publication | None:
        return self.get(publication_id) if publication_id is not None else None

    def _is_active(self, publication_id: str | None) -> bool:
        holder = self._holder(publication_id)
        return holder is not None and holder.status.is_active

    def _take_guard(
        self,
        tx: TransactWrite,
        publication: Publication,
        holder: str | None,
        *,
        holder_may_be_self: bool = False,
        replaceable: list[str] | None = None,
    ) -> None:
        control, record = self._control, self._record
        guard = control(_guard_of(publication), publication_id=publication.publication_id)
        if holder is None:
            tx.save(guard, condition=control.pk.does_not_exist())
            return
        tx.save(guard, condition=control.publication_id == holder)
        if not (holder_may_be_self and holder == publication.publication_id):
            # A holder that vanished (never started, removed) also frees the slot.
            tx.condition_check(
                record,
                holder,
                condition=record.publication_id.does_not_exist()
                | record.status.is_in(*(replaceable or _FINAL)),
            )

    def _to_record(self, publication: Publication) -> Any:
        item = item_of(publication)
        return self._record(publication.publication_id, **{k: v for k, v in item.items() if v is not None})


def _published(record: Any) -> Any:
    return record.status == PublicationStatus.PUBLISHED.value


def _stats_actions(
    record: Any, stats: dict[str, int | None], due: datetime, synced_at: datetime
) -> list[Any]:
    return [
        record.stats.set({k: v for k, v in stats.items() if v is not None}),
        record.stats_synced_at.set(to_iso(synced_at)),
        record.stats_due_at.set(to_iso(due)),
    ]


def _guard_of(publication: Publication) -> str:
    return guard_key(publication.user_id, publication.clip_id, publication.platform)


def _conditions_failed(exc: TransactWriteError) -> bool:
    reasons = exc.cancellation_reasons or []
    return exc.cause_response_code == "TransactionCanceledException" and any(
        reason is not None and reason.code == "ConditionalCheckFailed" for reason in reasons
    )


def _to_publication(record: Any) -> Publication:
    values = dict(record.attribute_values)
    if record.stats is not None:
        values["stats"] = record.stats.as_dict()
    return publication_of(values)
