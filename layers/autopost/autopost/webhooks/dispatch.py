"""The webhooks queue's consumer: fan-out and deliveries, retried on Standard Webhooks' schedule.

Two kinds of message arrive on WebhookQueue:

- an EventBridge event (the rule on the publications bus sends every `autopost` event): it
  becomes one delivery message per endpoint of its user that wants its type, sent back to
  the same queue, so each endpoint is retried on its own and a slow one delays no other;
- a delivery: the endpoint is read (a deleted one is dropped), the body signed for this
  attempt and posted (autopost.webhooks.targets), the outcome recorded for the console.

A failed attempt hides its message for the next wait of the schedule (the spec's
"immediately, 5 seconds, 5 minutes, 30 minutes, 2 hours, 5 hours, 10 hours, 10 hours",
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
"Retry schedule"), chosen by the message's receive count, and reports the failure so the
batch keeps its other messages' outcomes. The queue's maxReceiveCount equals the schedule's
length: after the last attempt the queue moves the message to its dead-letter queue.

Publishing never waits on any of this: events reach the bus from the publications table's
stream, and this queue has its own function.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from autopost.aws import client
from autopost.clock import utcnow
from autopost.observability import logger
from autopost.secrets import token_cipher
from autopost.settings import Settings
from autopost.storage.webhooks import WebhookRepository
from autopost.webhooks import Delivery
from autopost.webhooks.signing import signed_headers
from autopost.webhooks.targets import Sender

SOURCE = "autopost"
DELIVERY = "delivery"


class DeliveryFailed(Exception):
    """An attempt failed; the message waits for the next one (or the dead-letter queue)."""


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
        self._schedule = settings.webhook_retry_seconds
        self._repository = repository
        self._sender = sender
        self._sqs = sqs
        self._clock = clock

    def wait_after(self, attempt: int) -> int:
        """Seconds until the attempt after `attempt` (1-based); past the schedule, its last."""
        return self._schedule[min(attempt, len(self._schedule) - 1)]

    def process(self, body: str, receipt_handle: str, receive_count: int) -> None:
        """One queue message; raises when it must be tried again (after its wait)."""
        try:
            self._handle(json.loads(body), receive_count)
        except Exception:
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=self.wait_after(receive_count),
            )
            raise

    def _handle(self, message: dict[str, Any], attempt: int) -> None:
        if message.get("source") == SOURCE and isinstance(message.get("detail"), dict):
            self.fan_out(message["detail"])
        elif message.get("kind") == DELIVERY:
            self.deliver(message, attempt)
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
                        "body": body,
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
        """One attempt; None when the endpoint is gone (nothing to retry)."""
        found = self._repository.with_secret(message["userId"], message["endpointId"])
        if found is None:
            logger.info(
                "webhook endpoint deleted, delivery dropped", extra={"endpointId": message["endpointId"]}
            )
            return None
        endpoint, secret = found
        at = self._clock()
        headers = signed_headers(secret, message["eventId"], message["body"], at)
        outcome = self._sender.post(endpoint.url, headers, message["body"])
        delivery = Delivery(
            event_id=message["eventId"],
            type=message["type"],
            at=at,
            attempt=attempt,
            status_code=outcome.status_code,
            ok=outcome.ok,
            error=outcome.error,
        )
        self._repository.record_delivery(endpoint.endpoint_id, delivery)
        facts = {
            "endpointId": endpoint.endpoint_id,
            "eventId": delivery.event_id,
            "attempt": attempt,
            "statusCode": outcome.status_code,
        }
        if not outcome.ok:
            logger.warning("webhook delivery failed", extra={**facts, "error": outcome.error})
            raise DeliveryFailed(outcome.error)
        logger.info("webhook delivered", extra=facts)
        return delivery


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
    sender = Sender(
        settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private_targets,
        ca_file=settings.webhook_ca_file,
    )
    return WebhookDispatcher(settings, WebhookRepository(settings, token_cipher), sender, client("sqs"))
