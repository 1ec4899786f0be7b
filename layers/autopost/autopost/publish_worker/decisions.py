"""What the upload worker decides, as plain functions of what it has read: no I/O, no clock
of their own, so every rule is a unit test of microseconds
(`tests/unit/test_worker_decisions.py`). The worker (`worker.py`) reads, asks these, and
carries out the answer: the platform call, the writes, the task token's answer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from autopost.domain.errors import PlatformError, PlatformRateLimited, UploadIncomplete
from autopost.domain.models import Publication
from autopost.domain.statuses import PublicationStatus
from autopost.domain.task_errors import TaskError, TaskFailure
from autopost.providers.base import Published

# Waits up to this long delay the queue message (no state transitions); longer ones are
# handed to the state machine, so the task's timeout never runs out during the wait.
SHORT_WAIT_SECONDS = 60.0
# Woken before `scheduledAt` (moto's Wait ends up to 2 s early; clocks differ): a wait
# this short is slept through, a longer one delays the message. Never post early.
EARLY_SLEEP_SECONDS = 5.0
SQS_MAX_DELAY = 900


# -- what a message asks for, given the publication as it stands ----------------------------


@dataclass(frozen=True)
class Gone:
    """Removed, cancelled or failed: nothing to publish (the execution ends quietly)."""


@dataclass(frozen=True)
class AlreadyPublished:
    """A redelivered message, or one sent again after a timeout: answer, never post again."""

    publication: Publication


@dataclass(frozen=True)
class FinishEarlierPost:
    """An earlier attempt got the platform's answer and died before finishing."""

    publication: Publication
    published: Published


@dataclass(frozen=True)
class Upload:
    """Still to publish: take the attempt and call the platform."""


Step = Gone | AlreadyPublished | FinishEarlierPost | Upload


def next_step(publication: Publication | None) -> Step:
    if publication is None or publication.status not in (
        PublicationStatus.PUBLISHING,
        PublicationStatus.PUBLISHED,
    ):
        return Gone()
    if publication.status is PublicationStatus.PUBLISHED:
        return AlreadyPublished(publication)
    if publication.post_id:
        return FinishEarlierPost(
            publication,
            Published(
                publication.post_id,
                publication.post_url,
                publication.processing_state,
                publication.published_as,
            ),
        )
    return Upload()


# -- when: too early, held by another attempt, rate limited ----------------------------------


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Delay:
    """Send this message again, `seconds` on (its task token still waiting)."""

    seconds: int


@dataclass(frozen=True)
class HandOver:
    """A wait longer than a task may last: recorded, and waited out by the state machine."""


def too_early(publication: Publication, now: float) -> Sleep | Delay | None:
    """Whatever woke this attempt, nothing is posted before `scheduledAt`."""
    if publication.scheduled_at is None:
        return None
    remaining = publication.scheduled_at.timestamp() - now
    if remaining <= 0:
        return None
    if remaining <= EARLY_SLEEP_SECONDS:
        return Sleep(remaining)
    return Delay(min(SQS_MAX_DELAY, math.ceil(remaining)))


def held_elsewhere(held_until: datetime, now: datetime) -> Delay:
    """Another attempt holds the upload until its Lambda's deadline: ask again after it."""
    seconds = math.ceil((held_until - now).total_seconds()) + 1
    return Delay(min(SQS_MAX_DELAY, max(1, seconds)))


def rate_limit_wait(limited: PlatformRateLimited) -> Delay | HandOver:
    if limited.retry_after <= SHORT_WAIT_SECONDS:
        return Delay(max(1, math.ceil(limited.retry_after)))
    return HandOver()


# -- how an attempt ends ---------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """Fail the task with `error`; `message` (and `code`, where the platform gave one of its
    own) is recorded on the publication first, unless `record` is False."""

    error: TaskError
    message: str
    code: str | None = None
    record: bool = True


def failure_of(exc: TaskFailure | PlatformError | UploadIncomplete) -> Failure:
    """The one table from what went wrong to the task's answer (each platform error names
    its task error, `domain/errors.py`)."""
    if isinstance(exc, UploadIncomplete):
        # A resumable upload ran out of this attempt's time: continue, not a failure.
        return Failure(TaskError.UPLOAD_INCOMPLETE, "Загрузка продолжится", record=False)
    if isinstance(exc, TaskFailure):
        return Failure(exc.error, exc.message)
    return Failure(TaskError(exc.task_error), exc.message, code=exc.code)


def check_after(suggested: float, bounds: tuple[int, int]) -> int:
    """How soon the state machine asks again about a clip still processing."""
    low, high = bounds
    return int(min(high, max(low, math.ceil(suggested))))


@dataclass(frozen=True)
class AdoptAsPublished:
    """The state machine gave up while this attempt ran, and the post is out: the
    publication says what the viewers see."""

    publication: Publication


@dataclass(frozen=True)
class AnswerPublished:
    publication: Publication


@dataclass(frozen=True)
class Leave:
    """Cancelled or retried meanwhile: the post stands, the publication is not ours to move."""


def after_late_post(current: Publication | None) -> AdoptAsPublished | AnswerPublished | Leave:
    """A post made while the publication stopped being `publishing` under us."""
    if current is None:
        return Leave()
    if current.status is PublicationStatus.FAILED:
        return AdoptAsPublished(current)
    if current.status is PublicationStatus.PUBLISHED:
        return AnswerPublished(current)
    return Leave()
