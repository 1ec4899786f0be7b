"""Each publication's story: its history (GET /publications/{id}/events), the same events on
EventBridge for an operator's rule, and the outcome metrics, for the happy path, a retried
failure, a rate-limit wait, a cancel and a failure retried by hand. The state machine runs
in moto; the stream is carried to the publication-events function as Lambda would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from autopost.domain.platforms import Platform
from tests.conftest import REGION
from tests.integration.test_publish_flow import FINAL, publish, waiting

CREATED, STARTED, PUBLISHED = "publication.created", "publication.started", "publication.published"


@pytest.fixture
def flow(executing, platforms):
    executing.ready_clip()
    return executing


@pytest.fixture
def operator_rule(flow):
    """What an operator adds without touching our code: a rule on the bus, to a queue."""
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    bus = flow.stack.ref("EventBus")
    url = sqs.create_queue(QueueName=f"{flow.stack.name}-operator")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="operator", EventBusName=bus, EventPattern=json.dumps({"source": ["autopost"]}), State="ENABLED"
    )
    events.put_targets(Rule="operator", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])

    def received() -> list[dict]:
        found = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    return received


def kinds(events):
    return [e["type"] for e in events]


def test_the_happy_path_is_told_in_order_and_put_on_the_bus(flow, platforms, operator_rule, capsys):
    flow.connect_platform(platforms, Platform.TELEGRAM)
    ids = publish(flow, "telegram")
    flow.run_workers(flow.status_is(ids["telegram"], *FINAL))

    history = flow.events_of(ids["telegram"])

    assert kinds(history) == [CREATED, PUBLISHED]
    created, published = history
    assert (created["status"], created["previousStatus"], created["platform"]) == (
        "publishing",
        None,
        "telegram",
    )
    assert (published["status"], published["previousStatus"]) == ("published", "publishing")
    assert published["postUrl"].startswith("https://t.me/")
    assert "userId" not in published  # the owner's own view
    assert datetime.fromisoformat(created["at"]) <= datetime.fromisoformat(published["at"])
    on_bus = operator_rule()
    assert [(e["source"], e["detail-type"], e["detail"]["type"]) for e in on_bus] == [
        ("autopost", "Publication Status Changed", CREATED),
        ("autopost", "Publication Status Changed", PUBLISHED),
    ]
    assert on_bus[1]["detail"] == {**published, "userId": "user-1"}
    # Carrying the same changes again (a retried batch) adds nothing to the history and
    # counts no outcome again (the failure-rate alarms divide those counts); the bus gets
    # the same events again, with the same ids, for receivers to deduplicate.
    capsys.readouterr()
    flow.stream_position = None
    flow.stream_changes()
    assert flow.events_of(ids["telegram"]) == history
    assert "PublicationsFinished" not in capsys.readouterr().out
    assert {e["detail"]["eventId"] for e in operator_rule()} == {e["eventId"] for e in history}


def test_a_scheduled_publication_is_created_started_and_published(flow, platforms):
    flow.connect_platform(platforms, Platform.TELEGRAM)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    ids = publish(flow, "telegram", scheduledAt=due.isoformat())
    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=40)

    history = flow.events_of(ids["telegram"])

    assert kinds(history) == [CREATED, STARTED, PUBLISHED]
    assert datetime.fromisoformat(history[0]["scheduledAt"]) == due
    assert (history[1]["previousStatus"], history[1]["status"]) == ("scheduled", "publishing")
    assert datetime.fromisoformat(history[1]["at"]) >= due - timedelta(seconds=2)


def test_a_retried_failure_shows_each_attempt_its_error_and_retry(flow, platforms, operator_rule):
    flow.connect_platform(platforms, Platform.VK)
    platforms.vk.inject("video.save", "http_500", times=2)
    ids = publish(flow, "vk")
    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=40)
    assert flow.publication(ids["vk"])["status"] == "published"

    history = flow.events_of(ids["vk"])

    # VK then processes the uploaded clip: told as it goes, before the post is out.
    processing = [i for i, e in enumerate(history) if e["type"] == "publication.processing"]
    assert processing and all(history[i]["processingState"] for i in processing)
    assert processing == list(range(5, 5 + len(processing)))
    assert [k for k in kinds(history) if k != "publication.processing"] == [
        CREATED,
        "publication.attempt_failed",
        "publication.retried",
        "publication.attempt_failed",
        "publication.retried",
        PUBLISHED,
    ]
    failures = [e for e in history if e["type"] == "publication.attempt_failed"]
    assert [(e["errorCode"], e["errorMessage"], e["retry"]) for e in failures] == [
        ("PlatformUnavailable", "VK временно недоступен", 0),
        ("PlatformUnavailable", "VK временно недоступен", 1),
    ]
    assert [e["retry"] for e in history if e["type"] == "publication.retried"] == [1, 2]
    on_bus = operator_rule()
    assert [e["detail-type"] for e in on_bus if e["detail"]["type"] == "publication.attempt_failed"] == [
        "Publication Progress"
    ] * 2


def test_a_rate_limit_wait_says_until_when(flow, platforms):
    flow.connect_platform(platforms, Platform.TELEGRAM)
    platforms.telegram.inject("sendVideo", "rate_limit", retry_after=2)
    ids = publish(flow, "telegram")
    asked = datetime.now(UTC)
    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=30)

    history = flow.events_of(ids["telegram"])

    assert kinds(history) == [CREATED, "publication.rate_limited", PUBLISHED]
    until = datetime.fromisoformat(history[1]["waitUntil"])
    assert asked < until < datetime.now(UTC) + timedelta(seconds=3)
    assert history[1]["status"] == "publishing"


def test_a_cancel_ends_the_story(flow, platforms, operator_rule):
    flow.connect_platform(platforms, Platform.VK)
    due = datetime.now(UTC) + timedelta(seconds=30)
    ids = publish(flow, "vk", scheduledAt=due.isoformat())
    waiting(flow, ids["vk"])
    assert flow.api("POST", f"/publications/{ids['vk']}/cancel").status == 200

    history = flow.events_of(ids["vk"])

    assert kinds(history) == [CREATED, "publication.cancelled"]
    assert (history[1]["previousStatus"], history[1]["status"]) == ("scheduled", "cancelled")
    assert [e["detail"]["type"] for e in operator_rule()] == [CREATED, "publication.cancelled"]


def test_a_failure_then_a_retry_by_hand_and_the_outcome_metrics(flow, platforms, capsys):
    flow.connect_platform(platforms, Platform.VK)
    platforms.vk.inject("video.save", "http_500", times=4)
    ids = publish(flow, "vk")
    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=40)
    assert flow.api("POST", f"/publications/{ids['vk']}/retry").status == 200
    flow.run_workers(flow.status_is(ids["vk"], "published"), timeout=20)
    capsys.readouterr()

    history = [e for e in flow.events_of(ids["vk"]) if e["type"] != "publication.processing"]

    assert kinds(history)[-4:] == [
        "publication.attempt_failed",
        "publication.failed",
        "publication.retried",
        PUBLISHED,
    ]
    failed, retried = history[-3], history[-2]
    assert (failed["errorCode"], failed["errorMessage"]) == ("PlatformUnavailable", "VK временно недоступен")
    # A retry by hand counts retries by hand (the first); the automatic ones count within a run.
    assert (retried["previousStatus"], retried["status"], retried["retry"]) == ("failed", "publishing", 1)
    # One EMF line per outcome, by platform: what the failed-publication-rate alarms divide.
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    outcomes = [(line["outcome"], line["platform"]) for line in emitted if "PublicationsFinished" in line]
    assert outcomes == [("failed", "vk"), ("published", "vk")]


def test_another_users_history_is_not_found(flow, platforms):
    flow.connect_platform(platforms, Platform.TELEGRAM)
    ids = publish(flow, "telegram")
    flow.stream_changes()
    answer = flow.api("GET", f"/publications/{ids['telegram']}/events", user="user-2")
    assert answer.status == 404
    assert answer.body["error"]["code"] == "PUBLICATION_NOT_FOUND"
