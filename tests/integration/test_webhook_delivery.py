"""Webhook deliveries on the moto stack: an event put on the publications bus reaches the
webhooks queue through the template's rule, is fanned out to the user's endpoints and
delivered to an HTTPS receiver on this machine (a self-signed certificate it is told to
trust), signed per Standard Webhooks and verified with the reference library; a failed
attempt is retried on the schedule (seconds here) counting real attempts only, a redirect is
not followed, an internal address is refused, a slow receiver is cut off at the delivery's
budget, a record is not tried when the invocation is nearly over, and after the last attempt
the function parks the delivery in the dead-letter queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from autopost.infra import runtime
from autopost.webhooks.dispatch import POSTPONE_SECONDS, RESERVE_SECONDS
from functions.webhooks import handler as webhook_handler
from tests.conftest import REGION
from tests.support.https_receiver import Receiver, Trickle, https_receiver
from tests.support.lambda_context import LambdaContext
from tests.support.queues import drain

SCHEDULE = [0, 1, 1, 1, 1, 1, 1, 1]


@pytest.fixture
def receiver(harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with https_receiver() as running:
        monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
        monkeypatch.setenv("WEBHOOK_CA_FILE", str(running.ca_file))
        monkeypatch.setenv("WEBHOOK_RETRY_SECONDS", json.dumps(SCHEDULE))
        monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "5")
        runtime.reset()
        yield running


def register(harness, url: str, user: str = "user-1", **body: Any) -> dict[str, Any]:
    created = harness.api("POST", "/webhooks", body={"url": url, **body}, user=user)
    assert created.status == 201, created.body
    return created.body


def publish_event(
    harness, event_id: str = "evt_1", user: str = "user-1", kind: str = "publication.published"
):
    detail = {
        "eventId": event_id,
        "type": kind,
        "at": "2026-11-30T12:00:00.000Z",
        "userId": user,
        "publicationId": "pub-1",
        "clipId": "clip-1",
        "platform": "vk",
        "status": "published",
        "previousStatus": "publishing",
        "postUrl": "https://vk.com/clip-1_2",
    }
    events = boto3.client("events", region_name=REGION)
    answer = events.put_events(
        Entries=[
            {
                "Source": "autopost",
                "DetailType": "Publication Status Changed",
                "Detail": json.dumps(detail),
                "EventBusName": harness.stack.ref("EventBus"),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0
    return detail


def run_webhooks(
    harness, until: Callable[[], bool], timeout: float = 30.0, context: LambdaContext | None = None
) -> list[dict[str, Any]]:
    """Carry WebhookQueue's messages to the function, as its event source mapping does,
    until `until()` holds; the batch answers."""
    url, arn = harness.stack.ref("WebhookQueue"), harness.stack.attribute("WebhookQueue", "Arn")
    answers: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {timeout}s; answers: {answers}")
        batch = drain(harness.sqs, url, arn, webhook_handler.lambda_handler, context=context)
        answers.extend(batch)
        if not batch:
            time.sleep(0.2)
    return answers


def queued(harness, logical_id: str) -> int:
    attributes = harness.sqs.get_queue_attributes(
        QueueUrl=harness.stack.ref(logical_id),
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def fan_out(harness) -> None:
    """Only the event's message: its delivery messages stay queued."""
    url, arn = harness.stack.ref("WebhookQueue"), harness.stack.attribute("WebhookQueue", "Arn")
    (answer,) = drain(harness.sqs, url, arn, webhook_handler.lambda_handler, once=True)
    assert answer == {"batchItemFailures": []}


def deliveries(harness, endpoint_id: str) -> list[dict[str, Any]]:
    answer = harness.api("GET", f"/webhooks/{endpoint_id}/deliveries")
    assert answer.status == 200
    return answer.body["items"]


def test_an_event_is_delivered_signed_to_each_subscribed_endpoint(harness, receiver):
    everything = register(harness, receiver.url("/all"))
    failures_only = register(harness, receiver.url("/failures"), eventTypes=["publication.failed"])
    register(harness, receiver.url("/someone-else"), user="user-2")
    detail = publish_event(harness)

    run_webhooks(harness, lambda: len(receiver.requests) >= 1 and queued(harness, "WebhookQueue") == 0)

    (request,) = receiver.requests
    assert request.path == "/all"
    payload = Webhook(everything["secret"]).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == detail["eventId"]
    assert payload["type"] == "publication.published"
    assert payload["timestamp"] == detail["at"]
    assert payload["data"] == {k: v for k, v in detail.items() if k != "userId"}
    assert request.headers["Content-Type"] == "application/json"
    # Signed with this endpoint's secret, not another's.
    with pytest.raises(WebhookVerificationError):
        Webhook(failures_only["secret"]).verify(request.body, request.headers)

    (delivery,) = deliveries(harness, everything["id"])
    assert delivery["eventId"] == detail["eventId"] and delivery["type"] == "publication.published"
    assert (delivery["attempt"], delivery["statusCode"], delivery["ok"], delivery["error"]) == (
        1,
        200,
        True,
        None,
    )
    # What it was about, for the console to name.
    assert (delivery["publicationId"], delivery["clipId"], delivery["platform"]) == (
        detail["publicationId"],
        detail["clipId"],
        detail["platform"],
    )
    assert deliveries(harness, failures_only["id"]) == []
    assert queued(harness, "WebhookDeadLetterQueue") == 0


def test_a_test_event_is_sent_signed_at_once_and_listed_and_only_to_its_owner(harness, receiver):
    """«Отправить тестовое событие»: signed like any delivery, whatever types the endpoint
    wants, answered with the receiver's result; another user's endpoint is not found."""
    failures_only = register(harness, receiver.url("/failures"), eventTypes=["publication.failed"])

    answer = harness.api("POST", f"/webhooks/{failures_only['id']}/test")

    assert answer.status == 200, answer.body
    assert (answer.body["type"], answer.body["ok"], answer.body["statusCode"]) == ("webhook.test", True, 200)
    (request,) = receiver.requests
    payload = Webhook(failures_only["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "webhook.test" and "Проверка вебхука" in payload["data"]["message"]
    assert request.headers["webhook-id"] == answer.body["eventId"]
    assert [d["eventId"] for d in deliveries(harness, failures_only["id"])] == [answer.body["eventId"]]
    assert harness.api("POST", f"/webhooks/{failures_only['id']}/test", user="user-2").status == 404
    assert len(receiver.requests) == 1


def test_test_events_are_a_few_an_hour(harness, receiver):
    endpoint = register(harness, receiver.url("/hook"))
    statuses = [harness.api("POST", f"/webhooks/{endpoint['id']}/test").status for _ in range(11)]
    assert statuses == [200] * 10 + [429]


def test_a_failed_delivery_is_retried_and_delivered_once(harness, receiver):
    receiver.answers = [(500, {}, b"temporarily broken"), (200, {}, b"ok")]
    endpoint = register(harness, receiver.url())
    publish_event(harness, event_id="evt_retry")

    answers = run_webhooks(harness, lambda: any(r for r in receiver.requests[1:]))
    # The failed attempt queued the next one as a new message: no receive of it came back.
    assert not any(a["batchItemFailures"] for a in answers)
    # Nothing more is sent once it succeeded: its message is gone, the receiver has two requests.
    run_webhooks(harness, lambda: queued(harness, "WebhookQueue") == 0, timeout=10)
    assert len(receiver.requests) == 2

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "evt_retry"
    assert first.body == second.body
    for request in (first, second):
        Webhook(endpoint["secret"]).verify(request.body, request.headers)

    newest, oldest = deliveries(harness, endpoint["id"])
    assert (newest["attempt"], newest["statusCode"], newest["ok"]) == (2, 200, True)
    assert (oldest["attempt"], oldest["statusCode"], oldest["ok"]) == (1, 500, False)
    assert oldest["error"] == "HTTP 500: temporarily broken"


def test_a_redirect_is_not_followed(harness, receiver):
    receiver.answers = [(307, {"Location": receiver.url("/elsewhere")}, b"")]
    endpoint = register(harness, receiver.url("/hook"))
    publish_event(harness, event_id="evt_redirect")

    run_webhooks(harness, lambda: bool(deliveries(harness, endpoint["id"])))

    assert [r.path for r in receiver.requests] == ["/hook"]
    (delivery,) = deliveries(harness, endpoint["id"])
    assert (delivery["statusCode"], delivery["ok"]) == (307, False)
    assert "перенаправления не выполняются" in delivery["error"]
    assert queued(harness, "WebhookQueue") == 1  # to be tried again later


def test_in_aws_a_loopback_receiver_is_refused(harness, receiver, monkeypatch):
    endpoint = register(harness, receiver.url())  # registered while the local setting allowed it
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")
    runtime.reset()
    publish_event(harness, event_id="evt_ssrf")

    run_webhooks(harness, lambda: bool(deliveries(harness, endpoint["id"])))

    assert receiver.requests == []
    (delivery,) = deliveries(harness, endpoint["id"])
    assert delivery["ok"] is False and delivery["statusCode"] is None
    assert "внутреннюю сеть" in delivery["error"]


def test_a_deleted_endpoint_receives_nothing_more(harness, receiver):
    endpoint = register(harness, receiver.url())
    publish_event(harness, event_id="evt_before")
    run_webhooks(harness, lambda: len(receiver.requests) == 1)
    assert harness.api("DELETE", f"/webhooks/{endpoint['id']}").status == 204

    publish_event(harness, event_id="evt_after")
    run_webhooks(harness, lambda: queued(harness, "WebhookQueue") == 0)
    assert [r.headers["webhook-id"] for r in receiver.requests] == ["evt_before"]


def test_after_the_last_attempt_the_delivery_is_parked_in_the_dead_letter_queue(harness, receiver):
    receiver.answers = [(503, {}, b"down")]
    endpoint = register(harness, receiver.url())
    publish_event(harness, event_id="evt_dead")

    run_webhooks(harness, lambda: queued(harness, "WebhookDeadLetterQueue") == 1, timeout=60)

    assert len(receiver.requests) == len(SCHEDULE)
    attempts = [d["attempt"] for d in deliveries(harness, endpoint["id"])]
    assert attempts == list(range(len(SCHEDULE), 0, -1))
    assert queued(harness, "WebhookQueue") == 0
    parked = harness.sqs.receive_message(QueueUrl=harness.stack.ref("WebhookDeadLetterQueue"))["Messages"][0]
    body = json.loads(parked["Body"])
    # Parked by the function after its last attempt (the queue's redrive is only a backstop).
    assert (body["eventId"], body["attempt"], body["lastError"]) == (
        "evt_dead",
        len(SCHEDULE),
        "HTTP 503: down",
    )
    assert endpoint["secret"] not in parked["Body"]


def test_receives_without_an_attempt_do_not_advance_the_schedule(harness, receiver):
    """A crashed or timed-out invocation consumes a receive and attempts nothing: the
    attempts the receiver sees and the console shows are still 1, 2, ..."""
    receiver.answers = [(500, {}, b"not yet"), (200, {}, b"ok")]
    endpoint = register(harness, receiver.url())
    publish_event(harness, event_id="evt_crash")
    fan_out(harness)
    url = harness.stack.ref("WebhookQueue")
    for _ in range(3):  # three invocations that died before attempting anything
        (message,) = harness.sqs.receive_message(
            QueueUrl=url, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"]
        )["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "3"

    run_webhooks(harness, lambda: len(receiver.requests) == 2)

    assert [(d["attempt"], d["ok"]) for d in deliveries(harness, endpoint["id"])] == [(2, True), (1, False)]
    run_webhooks(harness, lambda: queued(harness, "WebhookQueue") == 0, timeout=10)
    assert len(receiver.requests) == 2 and queued(harness, "WebhookDeadLetterQueue") == 0


def test_a_record_is_not_tried_when_the_invocation_is_nearly_over(harness, receiver):
    """Less than one delivery's budget and the reserve left: the message is hidden a few
    seconds and reported failed, without an attempt; the next invocation makes attempt 1."""
    endpoint = register(harness, receiver.url())
    publish_event(harness, event_id="evt_late")
    fan_out(harness)
    budget = 5  # WEBHOOK_TIMEOUT_SECONDS in the fixture
    nearly_over = LambdaContext(remaining_millis=int((budget + RESERVE_SECONDS) * 1000) - 1)
    url, arn = harness.stack.ref("WebhookQueue"), harness.stack.attribute("WebhookQueue", "Arn")

    started = time.monotonic()
    (answer,) = drain(harness.sqs, url, arn, webhook_handler.lambda_handler, context=nearly_over)

    assert len(answer["batchItemFailures"]) == 1
    assert receiver.requests == [] and deliveries(harness, endpoint["id"]) == []
    # Hidden for a few seconds only (not the queue's 30 minutes), then attempted as the first.
    run_webhooks(harness, lambda: len(receiver.requests) == 1, timeout=POSTPONE_SECONDS + 10)
    assert time.monotonic() - started < POSTPONE_SECONDS + 10
    (delivery,) = deliveries(harness, endpoint["id"])
    assert (delivery["attempt"], delivery["ok"]) == (1, True)


def test_a_slow_receiver_is_cut_off_at_the_budget_and_holds_no_other_delivery(harness, receiver, monkeypatch):
    """A receiver trickling its answer a byte at a time (each within any per-read timeout)
    fails at the delivery's budget; the next record of the same batch is still delivered."""
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "1")
    runtime.reset()
    receiver.trickles["/slow"] = Trickle(b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 200 + b"\r\n\r\n", 0.1)
    slow = register(harness, receiver.url("/slow"))
    fast = register(harness, receiver.url("/fast"))
    publish_event(harness, event_id="evt_slow")

    started = time.monotonic()
    run_webhooks(
        harness, lambda: bool(deliveries(harness, slow["id"])) and bool(deliveries(harness, fast["id"]))
    )

    assert time.monotonic() - started < 8  # the trickle alone would take 20 s
    (failed,) = deliveries(harness, slow["id"])
    assert (failed["ok"], failed["statusCode"], failed["error"]) == (
        False,
        None,
        "Получатель не ответил за 1 с",
    )
    (delivered,) = deliveries(harness, fast["id"])
    assert (delivered["ok"], delivered["statusCode"]) == (True, 200)


def test_the_local_rule_keeps_the_templates_retry_policy_and_dead_letter_queue(harness):
    events = boto3.client("events", region_name=REGION)
    rule = harness.stack.ref("WebhookEventsRule")
    (target,) = events.list_targets_by_rule(Rule=rule, EventBusName=harness.stack.ref("EventBus"))["Targets"]
    assert target["Arn"] == harness.stack.attribute("WebhookQueue", "Arn")
    assert target["DeadLetterConfig"] == {
        "Arn": harness.stack.attribute("WebhookEventsRuleDeadLetterQueue", "Arn")
    }
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
