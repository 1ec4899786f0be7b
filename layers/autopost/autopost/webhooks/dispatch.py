"""The webhooks queue's consumer: fan-out and deliveries, retried on Standard Webhooks' schedule.

Two kinds of message arrive on WebhookQueue:

- an EventBridge event (the rule on the publications bus sends every `autopost` event): it
  becomes one delivery message per endpoint of its user that wants its type, sent back to
  the same queue, so each endpoint is retried on its own and a slow one delays no other;
- a delivery: the endpoint is read (a deleted one is dropped), the body signed for this
  attempt and posted (autopost.infra.webhook_targets), the outcome recorded for the console.

A delivery message carries the number of its attempt. A failed attempt sends a NEW message
for the next one, due after the next wait of the schedule (the spec's "immediately, 5 seconds,
5 minutes, 30 minutes, 2 hours, 5 hours, 10 hours, 10 hours",
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
"Retry schedule"): delayed by SQS up to 15 minutes, and a message received before it is due
is hidden for the rest of the wait (no attempt). So only real attempts advance the schedule:
a crashed or timed-out invocation, which consumes a receive, skips none. After the last
attempt the function itself sends the delivery to the dead-letter queue; the queue's own
maxReceiveCount is only a backstop for messages that keep failing before any attempt.

Each delivery has one budget in all (WEBHOOK_TIMEOUT_SECONDS), and a message is not even
tried when the invocation has less than that budget and a reserve left: it is hidden for a
few seconds and reported failed, so a batch never runs into the function's timeout.

Publishing never waits on any of this: events reach the bus from the publications table's
stream, and this queue has its own function.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from autopost.domain.clock import to_iso, utcnow
from autopost.domain.webhooks import Delivery, Endpoint
from autopost.infra.aws import client
from autopost.infra.observability import logger
from autopost.infra.secrets import webhook_cipher
from autopost.infra.settings import Settings
from autopost.infra.webhook_signing import signed_headers
from autopost.infra.webhook_targets import Sender
from autopost.storage.webhooks import WebhookRepository

SOURCE = "autopost"
DELIVERY = "delivery"
# What the console's «Отправить тестовое событие» sends (no publication is behind it).
TEST_EVENT = "webhook.test"
# The event's fields a delivery keeps to say what it was about.
ABOUT = ("publicationId", "clipId", "platform")
# SQS limits: DelaySeconds of a new message, and how long a received one may be hidden.
MAX_DELAY_SECONDS = 900
MAX_HIDE_SECONDS = 43200
# Kept beyond one delivery's budget: reading the endpoint, recording the attempt, queueing
# the next one, answering the batch. The template's Timeout allows a whole batch of both.
RESERVE_SECONDS = 5.0
# A message not tried for lack of time is back this soon, for an invocation that has it.
POSTPONE_SECONDS = 5


class NotTried(Exception):
    """The message was hidden without an attempt (too little time left, or not due yet)."""


class WebhookDispatcher:
    def __init__(
        self,
        settings: Settings,
        repository: WebhookRepository,
        sender: Sender,
        sqs: Any,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._queue_url = settings.webhook_queue_url
        self._dead_letter_url = settings.webhook_dead_letter_queue_url
        self._schedule = settings.webhook_retry_seconds
        self._budget = settings.webhook_timeout_seconds
        self._repository = repository
        self._sender = sender
        self._sqs = sqs
        self._clock = clock

    def wait_after(self, attempt: int) -> int:
        """Seconds until the attempt after `attempt` (1-based); past the schedule, its last."""
        return self._schedule[min(attempt, len(self._schedule) - 1)]

    def process(
        self, body: str, receipt_handle: str, receive_count: int, remaining_seconds: float | None = None
    ) -> None:
        """One queue message; raises when it must be received again: not tried (NotTried,
        hidden until it is due), or an error of ours before any attempt (hidden for the wait
        its receive count gives). A failed attempt raises nothing: its retry is a new message.
        `remaining_seconds`: what is left of the invocation."""
        if remaining_seconds is not None and remaining_seconds < self._budget + RESERVE_SECONDS:
            self._hide(receipt_handle, POSTPONE_SECONDS)
            raise NotTried(f"{remaining_seconds:.1f} s left in this invocation: not enough to try")
        try:
            message = json.loads(body)
            early = self._seconds_early(message)
            if early:
                self._hide(receipt_handle, early)
                raise NotTried(f"not due for {early} s")
            self._handle(message, receive_count)
        except NotTried:
            raise
        except Exception:
            self._hide(receipt_handle, self.wait_after(receive_count))
            raise

    def _hide(self, receipt_handle: str, seconds: int) -> None:
        self._sqs.change_message_visibility(
            QueueUrl=self._queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=min(seconds, MAX_HIDE_SECONDS),
        )

    def _seconds_early(self, message: Any) -> int:
        """How long before its due time a delivery arrived (0: it is due); SQS delays a new
        message by 15 minutes at most, so a longer wait is completed by hiding it."""
        if not isinstance(message, dict) or message.get("kind") != DELIVERY:
            return 0
        due = message.get("notBefore")
        if not isinstance(due, int | float):
            return 0
        early = due - self._clock().timestamp()
        # A second early is due: the delay and the clocks are not more precise than that.
        return math.ceil(early) if early > 1 else 0

    def _handle(self, message: dict[str, Any], receive_count: int) -> None:
        if message.get("source") == SOURCE and isinstance(message.get("detail"), dict):
            self.fan_out(message["detail"])
        elif message.get("kind") == DELIVERY:
            # A message queued before attempts were counted in it: its receive count.
            attempt = message.get("attempt")
            self.deliver(message, attempt if isinstance(attempt, int) and attempt > 0 else receive_count)
        else:
            logger.warning(
                "webhook queue: not an event or a delivery, dropped", extra={"keys": sorted(message)}
            )

    def fan_out(self, event: dict[str, Any]) -> int:
        """One delivery message per endpoint that wants this event; how many were sent. A
        retried fan-out may send some again: receivers deduplicate by webhook-id (the event's)."""
        user_id, event_type, event_id = event.get("userId"), event.get("type"), event.get("eventId")
        if not (isinstance(user_id, str) and isinstance(event_type, str) and isinstance(event_id, str)):
            logger.warning("webhook event without userId, type or eventId, dropped")
            return 0
        endpoints = [e for e in self._repository.list_for_user(user_id) if e.wants(event_type)]
        if not endpoints:
            return 0
        body = payload_of(event)
        entries = [
            {
                "Id": str(index),
                "MessageBody": json.dumps(
                    {
                        "kind": DELIVERY,
                        "userId": user_id,
                        "endpointId": endpoint.endpoint_id,
                        "eventId": event_id,
                        "type": event_type,
                        # What it is about, for the console's list of deliveries.
                        "about": {k: event.get(k) for k in ABOUT if isinstance(event.get(k), str)},
                        "body": body,
                        "attempt": 1,
                    },
                    ensure_ascii=False,
                ),
            }
            for index, endpoint in enumerate(endpoints)
        ]
        for start in range(0, len(entries), 10):
            response = self._sqs.send_message_batch(
                QueueUrl=self._queue_url, Entries=entries[start : start + 10]
            )
            if response.get("Failed"):
                raise RuntimeError(f"{len(response['Failed'])} webhook deliveries not queued")
        logger.info("webhook event fanned out", extra={"eventId": event_id, "endpoints": len(entries)})
        return len(entries)

    def deliver(self, message: dict[str, Any], attempt: int) -> Delivery | None:
        """Attempt `attempt` (1-based); None when the endpoint is gone (nothing to retry).
        A failure queues the next attempt, or after the last one parks the delivery."""
        found = self._repository.with_secret(message["userId"], message["endpointId"])
        if found is None:
            logger.info(
                "webhook endpoint deleted, delivery dropped", extra={"endpointId": message["endpointId"]}
            )
            return None
        endpoint, secret = found
        delivery = deliver_once(
            self._repository,
            self._sender,
            endpoint,
            secret,
            event_id=message["eventId"],
            event_type=message["type"],
            body=message["body"],
            about=message.get("about") or {},
            at=self._clock(),
            attempt=attempt,
        )
        facts = {
            "endpointId": endpoint.endpoint_id,
            "eventId": delivery.event_id,
            "attempt": attempt,
            "statusCode": delivery.status_code,
        }
        if delivery.ok:
            logger.info("webhook delivered", extra=facts)
        elif attempt < len(self._schedule):
            logger.warning("webhook delivery failed", extra={**facts, "error": delivery.error})
            self._retry(message, attempt + 1)
        else:
            logger.error("webhook delivery failed its last attempt", extra={**facts, "error": delivery.error})
            self._park(message, attempt, delivery.error)
        return delivery

    def _retry(self, message: dict[str, Any], attempt: int) -> None:
        """Queue attempt `attempt`, due after its wait. Sent before this message is deleted: a
        crash in between repeats an attempt (receivers deduplicate by webhook-id), skips none."""
        wait = self._schedule[attempt - 1]
        due = self._clock().timestamp() + wait
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=json.dumps({**message, "attempt": attempt, "notBefore": due}, ensure_ascii=False),
            DelaySeconds=min(wait, MAX_DELAY_SECONDS),
        )

    def _park(self, message: dict[str, Any], attempts: int, error: str | None) -> None:
        """The schedule is spent: the delivery goes to the dead-letter queue (its alarm tells
        the operator; a redrive gives it one more attempt)."""
        if not self._dead_letter_url:
            raise RuntimeError("WEBHOOK_DEAD_LETTER_QUEUE_URL is not set")
        parked = {key: value for key, value in message.items() if key != "notBefore"}
        self._sqs.send_message(
            QueueUrl=self._dead_letter_url,
            MessageBody=json.dumps({**parked, "attempt": attempts, "lastError": error}, ensure_ascii=False),
        )


def deliver_once(
    repository: WebhookRepository,
    sender: Sender,
    endpoint: Endpoint,
    secret: SecretStr,
    *,
    event_id: str,
    event_type: str,
    body: str,
    about: dict[str, str],
    at: datetime,
    attempt: int,
) -> Delivery:
    """One attempt: signed for this moment, posted, and recorded for the console."""
    headers = signed_headers(secret, event_id, body, at)
    outcome = sender.post(endpoint.url, headers, body)
    delivery = Delivery(
        event_id=event_id,
        type=event_type,
        at=at,
        attempt=attempt,
        status_code=outcome.status_code,
        ok=outcome.ok,
        error=outcome.error,
        publication_id=about.get("publicationId"),
        clip_id=about.get("clipId"),
        platform=about.get("platform"),
    )
    repository.record_delivery(endpoint.endpoint_id, delivery)
    return delivery


def send_test(
    repository: WebhookRepository, sender: Sender, user_id: str, endpoint_id: str
) -> Delivery | None:
    """A signed `webhook.test` event to one endpoint, now, whatever types it wants: the user
    sees their receiver's answer at once. None when the endpoint is not theirs."""
    found = repository.with_secret(user_id, endpoint_id)
    if found is None:
        return None
    endpoint, secret = found
    at = utcnow()
    event = {
        "eventId": f"evt_test_{secrets.token_hex(12)}",
        "type": TEST_EVENT,
        "at": to_iso(at),
        "message": "Проверка вебхука autopost: так приходят события публикаций",
    }
    return deliver_once(
        repository,
        sender,
        endpoint,
        secret,
        event_id=event["eventId"],
        event_type=TEST_EVENT,
        body=payload_of(event),
        about={},
        at=at,
        attempt=1,
    )


def sender_from_settings(settings: Settings) -> Sender:
    return Sender(
        settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private_targets,
        ca_file=settings.webhook_ca_file,
    )


def payload_of(event: dict[str, Any]) -> str:
    """The body every endpoint receives, as the spec suggests: {type, timestamp, data}; the
    data is the event without the user's id (the endpoint is the user's own)."""
    data = {key: value for key, value in event.items() if key != "userId"}
    return json.dumps(
        {"type": event["type"], "timestamp": event.get("at"), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def dispatcher_from_settings(settings: Settings) -> WebhookDispatcher:
    return WebhookDispatcher(
        settings, WebhookRepository(settings, webhook_cipher), sender_from_settings(settings), client("sqs")
    )
