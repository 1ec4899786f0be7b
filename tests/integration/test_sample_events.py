"""Every sample event under events/ goes through the handler of its trigger."""

import json

import pytest

from autopost.domain.platforms import Platform
from autopost.infra.settings import get_settings
from autopost.storage.history import HistoryRepository
from devstack.template import ROOT
from functions.api import handler as api_handler
from functions.clip_validator import handler as validator_handler
from functions.publication_events import handler as events_handler
from functions.webhooks import handler as webhooks_handler
from tests.support.lambda_context import LambdaContext
from tests.support.videos import make_video

EVENTS = ROOT / "events"
HANDLERS = {
    "api_": api_handler,
    "clip_events_": validator_handler,
    "publication_events_": events_handler,
    "webhooks_": webhooks_handler,
}
USER = "0f4b9c3e-1111-4a5b-9c8d-123456789abc"


def load(name):
    return json.loads((EVENTS / name).read_text())


def test_every_sample_event_has_a_handler():
    for path in EVENTS.glob("*.json"):
        assert any(path.name.startswith(prefix) for prefix in HANDLERS), path.name


def with_bucket(event, bucket):
    for record in event["Records"]:
        body = json.loads(record["body"])
        for s3_record in body["Records"]:
            s3_record["s3"]["bucket"]["name"] = bucket
        record["body"] = json.dumps(body)
    return event


def test_clip_events_created_then_removed(harness):
    harness.s3.put_object(Bucket=harness.bucket, Key=f"clips/{USER}/clip-1.mp4", Body=make_video("mp4"))
    created = validator_handler.lambda_handler(
        with_bucket(load("clip_events_object_created.json"), harness.bucket), LambdaContext()
    )
    assert created == {"batchItemFailures": []}
    assert harness.api("GET", "/clips/clip-1", user=USER).body["status"] == "ready"

    removed = validator_handler.lambda_handler(
        with_bucket(load("clip_events_object_removed.json"), harness.bucket), LambdaContext()
    )
    assert removed == {"batchItemFailures": []}
    assert harness.api("GET", "/clips/clip-1", user=USER).body["status"] == "deleted"


def test_a_publications_change_becomes_its_history(harness):
    answer = events_handler.lambda_handler(load("publication_events_published.json"), LambdaContext())
    assert answer == {"batchItemFailures": []}
    (event,) = HistoryRepository(get_settings()).events("5b3c1e2a-7d4f-4e8a-9b6c-0d1e2f3a4b5c")
    assert (event.type, event.previous_status, event.status, event.user_id) == (
        "publication.published",
        "publishing",
        "published",
        USER,
    )
    assert event.post_url == "https://vk.com/clip1001_456239017"
    assert event.at.isoformat() == "2026-11-30T12:00:00+00:00"


@pytest.fixture
def users_clip(harness):
    harness.ready_clip(user=USER, clip_id="clip-1")
    harness.connect(USER, Platform.VK, Platform.TELEGRAM)
    return harness


def test_api_publish_then_list(users_clip):
    published = api_handler.lambda_handler(load("api_publish.json"), LambdaContext())
    assert published["statusCode"] == 201
    assert {p["platform"] for p in json.loads(published["body"])["items"]} == {"vk", "telegram"}

    listed = api_handler.lambda_handler(load("api_list_publications.json"), LambdaContext())
    assert listed["statusCode"] == 200
    assert json.loads(listed["body"])["items"] == []  # none is published yet


def test_webhooks_fan_a_publication_event_out_to_the_users_endpoints(harness):
    created = harness.api("POST", "/webhooks", body={"url": "https://hooks.example.com/a"}, user=USER)
    assert created.status == 201
    answer = webhooks_handler.lambda_handler(load("webhooks_publication_published.json"), LambdaContext())
    assert answer == {"batchItemFailures": []}
    (message,) = harness.sqs.receive_message(QueueUrl=harness.stack.ref("WebhookQueue"))["Messages"]
    delivery = json.loads(message["Body"])
    assert (delivery["kind"], delivery["endpointId"], delivery["eventId"]) == (
        "delivery",
        created.body["id"],
        "evt_6f1c2d9a4b7e8f01",
    )
    assert USER not in delivery["body"]  # the endpoint's body carries no user id
