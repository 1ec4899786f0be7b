"""Issue 16 on the whole system: each publication's history (the API), its events on the
EventBridge bus (an operator's rule), and its webhooks, signed and checked by a receiver
with the `standardwebhooks` package, for the happy path, a retried failure, a rate-limit
wait and a cancel. The session's stack, whose functions trust the test receivers' certificate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.localstack.test_local_stack import FINAL, connect_telegram, connect_vk
from tests.support.https_receiver import Receiver, https_receiver
from tests.support.local_stack import Running, wait_until

CREATED, PUBLISHED = "publication.created", "publication.published"
ENDINGS = (PUBLISHED, "publication.failed", "publication.cancelled")


@pytest.fixture(scope="module")
def receiver(receiver_certificate: tuple[Path, Path]) -> Iterator[Receiver]:
    with https_receiver(certificate=receiver_certificate) as serving:
        yield serving


@pytest.fixture(scope="module")
def stack(local_stack: Running) -> Running:
    """The session's stack: its functions trust the receivers' certificate."""
    return local_stack


@pytest.fixture(scope="module")
def on_the_bus(stack: Running):
    """An operator's rule, added without touching our code: every autopost event to a queue."""
    where = {
        "endpoint_url": stack.info["s3"],
        "region_name": stack.info["region"],
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    events, sqs = boto3.client("events", **where), boto3.client("sqs", **where)
    url = sqs.create_queue(QueueName="operator-story")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.info["eventBus"]
    events.put_rule(Name="operator", EventBusName=bus, EventPattern=json.dumps({"source": ["autopost"]}))
    events.put_targets(Rule="operator", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    seen: list[dict] = []

    def received(publication_id: str) -> list[dict]:
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                seen.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [e for e in seen if e["detail"]["publicationId"] == publication_id]

    return received


def subscribe(stack: Running, receiver: Receiver, user: str) -> tuple[httpx.Client, Webhook, dict]:
    api = stack.api(user)
    created = api.post("/webhooks", json={"url": receiver.url(f"/{user}")})
    assert created.status_code == 201, created.text
    return api, Webhook(created.json()["secret"]), created.json()


def delivered(receiver: Receiver, user: str, webhook: Webhook, publication_id: str) -> list[dict]:
    """What reached the receiver for one publication, each verified as the README shows."""
    found = []
    for request in list(receiver.requests):
        if request.path != f"/{user}":
            continue
        payload = webhook.verify(request.body, request.headers)  # raises on a bad signature
        assert request.headers["webhook-id"] == payload["data"]["eventId"]
        if payload["data"]["publicationId"] == publication_id:
            found.append(payload)
    return found


def story(
    stack: Running, receiver: Receiver, on_the_bus, api: httpx.Client, webhook: Webhook, user: str, pid: str
) -> list[str]:
    """The history's types, once the receiver and the bus have every event of it."""

    def history() -> list[dict]:
        return api.get(f"/publications/{pid}/events").json()["items"]

    def complete() -> bool:
        items = history()
        if not items or items[-1]["type"] not in ENDINGS:
            return False  # the stream is still behind the publication
        told = {e["eventId"] for e in items}
        sent = {p["data"]["eventId"] for p in delivered(receiver, user, webhook, pid)}
        routed = {e["detail"]["eventId"] for e in on_the_bus(pid)}
        return told == sent == routed

    wait_until(complete, 60, "history, webhooks and the bus agree")
    items = history()
    payloads = {p["data"]["eventId"]: p for p in delivered(receiver, user, webhook, pid)}
    for item in items:
        assert payloads[item["eventId"]]["type"] == item["type"]
        assert payloads[item["eventId"]]["data"] == item  # the owner's view, no user id
    return [e["type"] for e in items]


def test_the_happy_path(stack, receiver, on_the_bus):
    user = "story-1"
    api, webhook, endpoint = subscribe(stack, receiver, user)
    stack.upload_ready_clip(user, "clip-1")
    connect_telegram(stack, api, "story_channel_1")
    (publication,) = api.post(
        "/clips/clip-1/publications", json={"platforms": ["telegram"], "title": "t"}
    ).json()["items"]
    pid = publication["id"]
    wait_until(lambda: api.get(f"/publications/{pid}").json()["status"] in FINAL, 60, "published")

    assert story(stack, receiver, on_the_bus, api, webhook, user, pid) == [CREATED, PUBLISHED]
    assert [e["detail-type"] for e in on_the_bus(pid)] == ["Publication Status Changed"] * 2
    deliveries = api.get(f"/webhooks/{endpoint['id']}/deliveries").json()["items"]
    assert {(d["type"], d["ok"]) for d in deliveries if d["ok"]} >= {(CREATED, True), (PUBLISHED, True)}


def test_a_retried_failure(stack, receiver, on_the_bus):
    user = "story-2"
    api, webhook, _ = subscribe(stack, receiver, user)
    stack.upload_ready_clip(user, "clip-2")
    connect_vk(api)
    httpx.post(
        f"{stack.emulator('vk')}/_emulator/faults",
        json={"endpoint": "video.save", "kind": "http_500", "times": 1},
    )
    (publication,) = api.post("/clips/clip-2/publications", json={"platforms": ["vk"], "title": "t"}).json()[
        "items"
    ]
    pid = publication["id"]
    wait_until(lambda: api.get(f"/publications/{pid}").json()["status"] in FINAL, 90, "published")

    kinds = [
        k
        for k in story(stack, receiver, on_the_bus, api, webhook, user, pid)
        if k != "publication.processing"
    ]
    assert kinds == [CREATED, "publication.attempt_failed", "publication.retried", PUBLISHED]
    failure = next(e for e in api.get(f"/publications/{pid}/events").json()["items"] if e["errorCode"])
    assert failure["errorMessage"] == "VK временно недоступен"


def test_a_rate_limit_wait(stack, receiver, on_the_bus):
    user = "story-3"
    api, webhook, _ = subscribe(stack, receiver, user)
    stack.upload_ready_clip(user, "clip-3")
    connect_telegram(stack, api, "story_channel_3")
    httpx.post(
        f"{stack.emulator('telegram')}/_emulator/faults",
        json={"endpoint": "sendVideo", "kind": "rate_limit", "retry_after": 2},
    )
    (publication,) = api.post(
        "/clips/clip-3/publications", json={"platforms": ["telegram"], "title": "t"}
    ).json()["items"]
    pid = publication["id"]
    wait_until(lambda: api.get(f"/publications/{pid}").json()["status"] in FINAL, 60, "published")

    assert story(stack, receiver, on_the_bus, api, webhook, user, pid) == [
        CREATED,
        "publication.rate_limited",
        PUBLISHED,
    ]
    (waiting,) = [e for e in api.get(f"/publications/{pid}/events").json()["items"] if e["waitUntil"]]
    assert datetime.fromisoformat(waiting["waitUntil"]) > datetime.fromisoformat(waiting["at"])


def test_a_cancel(stack, receiver, on_the_bus):
    user = "story-4"
    api, webhook, _ = subscribe(stack, receiver, user)
    stack.upload_ready_clip(user, "clip-4")
    connect_telegram(stack, api, "story_channel_4")
    at = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    (publication,) = api.post(
        "/clips/clip-4/publications", json={"platforms": ["telegram"], "title": "t", "scheduledAt": at}
    ).json()["items"]
    pid = publication["id"]
    assert api.post(f"/publications/{pid}/cancel").json()["status"] == "cancelled"

    assert story(stack, receiver, on_the_bus, api, webhook, user, pid) == [CREATED, "publication.cancelled"]


def test_a_signature_made_with_another_endpoints_secret_is_refused(stack, receiver):
    """The check the tests above rely on does refuse: another endpoint's secret fails."""
    secret = stack.api("story-5").post("/webhooks", json={"url": receiver.url("/story-5")}).json()["secret"]
    request = next(r for r in receiver.requests if r.path == "/story-1")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body, request.headers)
