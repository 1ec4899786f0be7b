"""Signed webhooks: a user registers up to five https endpoints and receives the publication
events they chose, each signed per the Standard Webhooks specification
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).

- `signing`: the secret (`whsec_` + base64 of 32 random bytes) and the three headers
  (`webhook-id` = the event's id, stable across retries; `webhook-timestamp`;
  `webhook-signature` = `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`).
- `targets`: where a request may go: https only, and in AWS never to a private, loopback,
  link-local, reserved, multicast or unspecified address (SSRF), checked on every resolved
  address, then connecting to the checked address itself (no second lookup to rebind).
- `dispatch`: the webhooks queue's consumer. An EventBridge event becomes one delivery
  message per subscribed endpoint; a failed attempt queues the next one on the spec's
  schedule (about 27 h in all; the attempt's number travels in the message), and after the
  last one the delivery is parked in the dead-letter queue.

This module holds only the domain objects, so storage and the API import it cheaply.
"""

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
