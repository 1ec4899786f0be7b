"""Webhooks as the user sees them: an endpoint (up to five, https, the event types it
wants) and its recent deliveries. The service that signs and sends them is
`autopost.webhooks`; storage and the API need only these objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MAX_ENDPOINTS = 5
# What the console shows of each endpoint's recent attempts, and how long they are kept.
DELIVERIES_SHOWN = 50
DELIVERY_DAYS = 30


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    user_id: str
    url: str
    # Empty: every event type.
    event_types: tuple[str, ...]
    created_at: datetime

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one event to one endpoint."""

    event_id: str
    type: str
    at: datetime
    attempt: int
    status_code: int | None
    ok: bool
    # Why it failed, in words (a refused address, a timeout, a redirect not followed), or the
    # start of the receiver's answer; never a secret.
    error: str | None
    # What the event is about, so the console can name it (older deliveries have none).
    publication_id: str | None = None
    clip_id: str | None = None
    platform: str | None = None
