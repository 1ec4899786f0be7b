"""Publication statuses and the only transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum

from autopost.domain.errors import InvalidTransition


class PublicationStatus(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        """Active publications block another one for the same clip and platform."""
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset({PublicationStatus.SCHEDULED, PublicationStatus.PUBLISHING})

ALLOWED_TRANSITIONS: dict[PublicationStatus, frozenset[PublicationStatus]] = {
    PublicationStatus.SCHEDULED: frozenset({PublicationStatus.PUBLISHING, PublicationStatus.CANCELLED}),
    PublicationStatus.PUBLISHING: frozenset({PublicationStatus.PUBLISHED, PublicationStatus.FAILED}),
    # Retried; or an attempt the state machine had given up on made its post after all.
    PublicationStatus.FAILED: frozenset({PublicationStatus.PUBLISHING, PublicationStatus.PUBLISHED}),
    PublicationStatus.PUBLISHED: frozenset(),
    PublicationStatus.CANCELLED: frozenset(),
}


def ensure_transition(current: PublicationStatus, target: PublicationStatus) -> None:
    if target not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(details={"from": current.value, "to": target.value})
