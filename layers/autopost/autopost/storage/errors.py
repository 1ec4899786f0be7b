"""What storage itself refuses. Not HTTP errors: the service that asked decides what each
means (for the worker, a publication that moved on is the end of its attempt, not a fault);
the API answers them with 409 (`api/app.py`)."""

from __future__ import annotations

from typing import Any


class ConditionFailed(Exception):
    """A conditional write found the item other than the change expected."""

    def __init__(self, **details: Any) -> None:
        self.details = details
        super().__init__(", ".join(f"{k}={v}" for k, v in details.items()))


class PublicationChanged(ConditionFailed):
    """The publication's status was not the one the change expected (another worker, a
    cancel or the state machine moved it on), or it is gone."""


class ConnectionChanged(ConditionFailed):
    """The connection was changed (reconnected, refreshed) since it was read."""
