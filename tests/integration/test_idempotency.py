"""Idempotency-Key (Stripe's semantics) and reposting as a choice."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from autopost.api.app import build_app
from autopost.domain.platforms import Platform
from autopost.domain.statuses import PublicationStatus
from autopost.infra import runtime
from autopost.infra.settings import get_settings
from autopost.storage.publications import PublicationRepository
from tests.integration.conftest import Response
from tests.support.http_events import http_event
from tests.support.lambda_context import LambdaContext


@pytest.fixture
def ready(harness):
    harness.ready_clip()
    harness.connect("user-1", *Platform)
    return harness


def body(*platforms, **extra):
    return {"platforms": list(platforms), "title": "Клип", **extra}


def publish(api, key=None, user="user-1", **payload):
    headers = {"idempotency-key": key} if key else None
    return api.api(
        "POST", "/clips/clip-1/publications", body=payload or body("vk"), user=user, headers=headers
    )


def publications(api, user="user-1"):
    return api.api("GET", "/publications", user=user).body["items"]


def published(publication_id):
    PublicationRepository(get_settings()).transition(
        publication_id, PublicationStatus.PUBLISHING, PublicationStatus.PUBLISHED, post_id="1001_5"
    )


def test_the_same_key_and_body_answer_the_first_answer_and_create_nothing(ready):
    key = str(uuid.uuid4())
    first = publish(ready, key)
    again = publish(ready, key)
    assert (first.status, again.status) == (201, 201)
    assert again.body == first.body
    assert len(publications(ready)) == 1
    assert len(ready.executions()) == 1


def test_the_same_key_with_another_body_is_422(ready):
    key = str(uuid.uuid4())
    assert publish(ready, key).status == 201
    other = publish(ready, key, **body("telegram"))
    assert other.status == 422
    assert other.body["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(publications(ready)) == 1


def test_keys_are_each_users_own(ready):
    ready.ready_clip(user="user-2")
    ready.connect("user-2", Platform.VK)
    key = str(uuid.uuid4())
    assert publish(ready, key).status == 201
    theirs = publish(ready, key, user="user-2")
    assert theirs.status == 201
    assert theirs.body != publish(ready, key).body
    assert len(publications(ready, "user-2")) == 1


def test_a_refused_request_is_not_kept_and_its_repeat_may_succeed(ready):
    key = str(uuid.uuid4())
    ready.api("DELETE", "/connections/vk")
    refused = publish(ready, key)
    assert refused.status == 422
    ready.connect("user-1", Platform.VK)
    assert publish(ready, key).status == 201


def test_cancel_and_retry_take_a_key_too(ready):
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    (scheduled,) = publish(ready, **body("vk", scheduledAt=later)).body["items"]
    key = str(uuid.uuid4())
    headers = {"idempotency-key": key}
    first = ready.api("POST", f"/publications/{scheduled['id']}/cancel", headers=headers)
    again = ready.api("POST", f"/publications/{scheduled['id']}/cancel", headers=headers)
    assert (first.status, again.status) == (200, 200)
    assert again.body == first.body
    # Without the key the same cancel is refused: it is no longer scheduled.
    assert ready.api("POST", f"/publications/{scheduled['id']}/cancel").status == 409


@pytest.mark.parametrize("key", ["", "ключ", "x" * 256, "with space"])
def test_a_malformed_key_is_refused(ready, key):
    response = publish(ready, key or " ")
    assert response.status == 422


def test_twenty_identical_requests_at_once_with_one_key_make_one_publication(ready, monkeypatch):
    monkeypatch.setenv("PUBLISH_RATE_PER_MINUTE", "100")
    runtime.reset()
    key = str(uuid.uuid4())

    def from_its_own_environment(_):
        # As Lambda runs them: each concurrent request in an environment of its own, so with a
        # resolver of its own (powertools' resolver keeps the current request on itself).
        event = http_event(
            "POST", "/clips/clip-1/publications", body=body("vk"), headers={"idempotency-key": key}
        )
        return Response.of(build_app().resolve(event, LambdaContext()))

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(from_its_own_environment, range(20)))
    statuses = [r.status for r in responses]
    assert set(statuses) <= {201, 409}
    assert {r.body["error"]["code"] for r in responses if r.status == 409} <= {
        "IDEMPOTENT_REQUEST_IN_PROGRESS"
    }
    created = {tuple(p["id"] for p in r.body["items"]) for r in responses if r.status == 201}
    assert len(created) == 1  # every 201 is the same answer
    assert len(publications(ready)) == 1
    in_progress = [r for r in responses if r.status == 409]
    assert all(r.headers.get("Retry-After") == "1" for r in in_progress)


def test_publishing_again_where_the_clip_is_published_is_a_conflict_unless_asked(ready):
    (first,) = publish(ready).body["items"]
    published(first["id"])

    again = publish(ready)
    assert again.status == 409
    error = again.body["error"]
    assert (error["code"], error["message"]) == ("ALREADY_PUBLISHED", "Клип уже опубликован в VK")
    (existing,) = error["details"]["publications"]
    assert (existing["id"], existing["status"], existing["post"]["id"]) == (
        first["id"],
        "published",
        "1001_5",
    )

    repost = publish(ready, **body("vk", repost=True))
    assert repost.status == 201
    assert len(publications(ready)) == 2


def test_a_failed_or_cancelled_publication_does_not_need_a_repost(ready):
    (first,) = publish(ready).body["items"]
    PublicationRepository(get_settings()).transition(
        first["id"], PublicationStatus.PUBLISHING, PublicationStatus.FAILED
    )
    assert publish(ready).status == 201


def test_all_or_nothing_when_one_platform_is_already_published(ready):
    (first,) = publish(ready).body["items"]
    published(first["id"])
    both = publish(ready, **body("vk", "telegram"))
    assert both.status == 409
    assert both.body["error"]["message"] == "Клип уже опубликован в VK"
    assert len(publications(ready)) == 1
