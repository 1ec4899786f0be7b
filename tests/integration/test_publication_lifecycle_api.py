"""Concurrency, cancel, retry, listing and isolation between users."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from autopost.domain.platforms import Platform
from autopost.domain.statuses import PublicationStatus
from autopost.infra import runtime
from autopost.infra.settings import get_settings
from autopost.storage.publications import PublicationRepository


def body(*platforms, **extra):
    return {"platforms": list(platforms), "title": "Клип", **extra}


def later(hours=1):
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


@pytest.fixture
def ready(harness):
    harness.ready_clip()
    harness.connect("user-1", *Platform)
    return harness


def fail(publication_id, message="Платформа недоступна"):
    PublicationRepository(get_settings()).transition(
        publication_id,
        PublicationStatus.PUBLISHING,
        PublicationStatus.FAILED,
        error_code="PlatformUnavailable",
        error_message=message,
    )


def test_fifty_concurrent_identical_requests_create_exactly_one_publication(ready, monkeypatch):
    monkeypatch.setenv("PUBLISH_RATE_PER_MINUTE", "100")
    runtime.reset()
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(
            pool.map(lambda _: ready.api("POST", "/clips/clip-1/publications", body=body("vk")), range(50))
        )

    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 49
    assert {r.body["error"]["code"] for r in responses if r.status == 409} == {"DUPLICATE_PUBLICATION"}
    assert len(ready.api("GET", "/publications").body["items"]) == 1
    assert len(ready.executions()) == 1


def test_publish_is_limited_to_20_a_minute_per_user_across_instances(ready):
    statuses = []
    for index in range(21):
        runtime.reset()  # every request on a fresh Lambda environment: the budget is shared
        statuses.append(ready.api("POST", f"/clips/missing-{index}/publications", body=body("vk")).status)
    assert statuses[:20] == [404] * 20
    assert statuses[20] == 429
    limited = ready.api("POST", "/clips/clip-1/publications", body=body("vk"))
    assert limited.status == 429
    assert limited.body["error"]["code"] == "RATE_LIMITED"
    # until a twentieth of the last minute's twenty has slid out: at most 63 s
    assert 1 <= int(limited.headers["Retry-After"]) <= 63
    # Another user has a budget of their own.
    assert ready.api("POST", "/clips/clip-1/publications", body=body("vk"), user="user-2").status == 404


def test_cancel_a_scheduled_publication_stops_its_execution(ready):
    (publication,) = ready.api(
        "POST", "/clips/clip-1/publications", body=body("vk", scheduledAt=later())
    ).body["items"]
    response = ready.api("POST", f"/publications/{publication['id']}/cancel")

    assert response.status == 200
    assert response.body["status"] == "cancelled"
    assert ready.api("GET", f"/publications/{publication['id']}").body["status"] == "cancelled"
    (execution,) = ready.executions()
    assert execution["status"] == "ABORTED"


def test_only_scheduled_publications_can_be_cancelled(ready):
    (publication,) = ready.api("POST", "/clips/clip-1/publications", body=body("vk")).body["items"]
    response = ready.api("POST", f"/publications/{publication['id']}/cancel")
    assert response.status == 409
    assert response.body["error"]["code"] == "STATUS_CONFLICT"
    assert response.body["error"]["details"] == {"status": "publishing"}


def test_retry_a_failed_publication_starts_a_new_execution(ready):
    (publication,) = ready.api("POST", "/clips/clip-1/publications", body=body("vk")).body["items"]
    fail(publication["id"])
    failed = ready.api("GET", f"/publications/{publication['id']}").body
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "PlatformUnavailable", "message": "Платформа недоступна"}

    response = ready.api("POST", f"/publications/{publication['id']}/retry")

    assert response.status == 200
    assert response.body["status"] == "publishing"
    assert response.body["attempt"] == 1
    assert response.body["error"] is None
    names = sorted(e["name"] for e in ready.executions())
    assert names == sorted([publication["id"], f"{publication['id']}-retry-1"])
    # Retrying again while it publishes is refused.
    assert ready.api("POST", f"/publications/{publication['id']}/retry").status == 409


def test_retry_checks_the_plan_again(ready):
    """A publication made on «pro» cannot be retried on Rutube once the plan is «free»."""
    (publication,) = ready.api("POST", "/clips/clip-1/publications", body=body("rutube"), plan="pro").body[
        "items"
    ]
    fail(publication["id"])
    response = ready.api("POST", f"/publications/{publication['id']}/retry", plan="free")
    assert response.status == 422
    assert response.body["error"]["code"] == "PLATFORM_NOT_IN_PLAN"
    assert ready.api("GET", f"/publications/{publication['id']}").body["status"] == "failed"
    assert [e["name"] for e in ready.executions()] == [publication["id"]]


def test_retry_checks_the_connection_again(ready):
    (publication,) = ready.api("POST", "/clips/clip-1/publications", body=body("vk")).body["items"]
    fail(publication["id"])
    assert ready.api("DELETE", "/connections/vk").status == 200
    response = ready.api("POST", f"/publications/{publication['id']}/retry")
    assert response.status == 422
    assert response.body["error"]["code"] == "PLATFORM_NOT_CONNECTED"


def test_retry_is_refused_while_a_newer_publication_of_the_clip_is_active(ready):
    (old,) = ready.api("POST", "/clips/clip-1/publications", body=body("vk")).body["items"]
    fail(old["id"])
    assert ready.api("POST", "/clips/clip-1/publications", body=body("vk")).status == 201
    response = ready.api("POST", f"/publications/{old['id']}/retry")
    assert response.status == 409
    assert response.body["error"]["code"] == "DUPLICATE_PUBLICATION"


def test_a_failed_publication_frees_the_slot_for_a_new_one(ready):
    (old,) = ready.api("POST", "/clips/clip-1/publications", body=body("vk")).body["items"]
    fail(old["id"])
    assert ready.api("POST", "/clips/clip-1/publications", body=body("vk")).status == 201


def test_users_never_see_or_touch_each_others_publications_or_clips(ready):
    (publication,) = ready.api(
        "POST", "/clips/clip-1/publications", body=body("vk", scheduledAt=later())
    ).body["items"]
    for method, path in [
        ("GET", f"/publications/{publication['id']}"),
        ("POST", f"/publications/{publication['id']}/cancel"),
        ("POST", f"/publications/{publication['id']}/retry"),
        ("GET", "/clips/clip-1"),
    ]:
        response = ready.api(method, path, user="intruder")
        assert response.status == 404, path
    assert ready.api("GET", "/publications", user="intruder").body["items"] == []
    assert ready.api("GET", "/clips", user="intruder").body["items"] == []
    assert ready.api("GET", f"/publications/{publication['id']}").body["status"] == "scheduled"


def test_list_filters_and_paginates_with_an_opaque_cursor(ready):
    for index in range(3):
        ready.ready_clip(clip_id=f"extra-{index}")
        ready.api(
            "POST", f"/clips/extra-{index}/publications", body=body("vk", "telegram", scheduledAt=later())
        )
    ready.api("POST", "/clips/clip-1/publications", body=body("rutube"))

    everything = ready.api("GET", "/publications", query={"limit": "100"}).body["items"]
    assert len(everything) == 7
    assert [p["createdAt"] for p in everything] == sorted((p["createdAt"] for p in everything), reverse=True)

    seen, cursor = [], None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = ready.api("GET", "/publications", query=query).body
        seen += [p["id"] for p in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(p["id"] for p in everything)

    telegram = ready.api("GET", "/publications", query={"platform": "telegram"}).body["items"]
    assert len(telegram) == 3 and {p["platform"] for p in telegram} == {"telegram"}
    publishing = ready.api("GET", "/publications", query={"status": "publishing"}).body["items"]
    assert [p["platform"] for p in publishing] == ["rutube"]
    of_clip = ready.api("GET", "/publications", query={"clipId": "extra-1"}).body["items"]
    assert {p["clipId"] for p in of_clip} == {"extra-1"} and len(of_clip) == 2

    page = ready.api("GET", "/publications", query={"limit": "2"}).body
    stolen = ready.api("GET", "/publications", user="user-2", query={"cursor": page["nextCursor"]})
    assert stolen.status == 400
    assert stolen.body["error"]["code"] == "INVALID_CURSOR"


def test_bad_list_parameters_are_422(ready):
    for query in ({"status": "done"}, {"platform": "myspace"}, {"limit": "0"}, {"limit": "many"}):
        response = ready.api("GET", "/publications", query=query)
        assert response.status == 422, query
        assert response.body["error"]["code"] == "VALIDATION_ERROR"


def test_clips_list_and_detail(ready):
    ready.ready_clip(clip_id="second", container="webm")
    clips = ready.api("GET", "/clips").body["items"]
    assert {c["id"]: c["status"] for c in clips} == {"clip-1": "ready", "second": "ready"}
    clip = ready.api("GET", "/clips/clip-1").body
    assert clip["contentType"] == "video/mp4" and clip["width"] == 64 and clip["durationSeconds"] > 1
    assert ready.api("GET", "/clips/none").body["error"]["code"] == "CLIP_NOT_FOUND"
