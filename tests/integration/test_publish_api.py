"""POST /clips/{clipId}/publications: every rule, in order, all-or-nothing."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from autopost.domain.models import Clip, ClipStatus, ConnectionStatus
from autopost.domain.platforms import MB, Platform
from autopost.infra import runtime
from autopost.infra.settings import get_settings
from autopost.storage.clips import ClipRepository
from tests.support.videos import webm

VK, TG, RUTUBE, DZEN = Platform.VK, Platform.TELEGRAM, Platform.RUTUBE, Platform.DZEN


def body(*platforms, **extra):
    return {"platforms": list(platforms), "title": "Мой клип", "description": "описание", **extra}


def stored_clip(harness, user="user-1", clip_id="big", size=100 * MB, duration=30.0, status=ClipStatus.READY):
    now = datetime.now(UTC)
    ClipRepository(get_settings()).save_if_newer(
        Clip(
            user_id=user,
            clip_id=clip_id,
            key=f"clips/{user}/{clip_id}.mp4",
            status=status,
            size_bytes=size,
            duration_seconds=duration,
            content_type="video/mp4",
            created_at=now,
            updated_at=now,
        ),
        sequencer="1",
    )
    return clip_id


def publications_of(harness, user="user-1"):
    return harness.api("GET", "/publications", user=user).body["items"]


@pytest.fixture
def ready(harness):
    harness.ready_clip()
    harness.connect("user-1", VK, TG, RUTUBE, DZEN)
    return harness


def test_publish_now_creates_one_publication_and_one_execution_per_platform(ready):
    response = ready.api("POST", "/clips/clip-1/publications", body=body("vk", "telegram"))

    assert response.status == 201
    items = response.body["items"]
    assert {p["platform"] for p in items} == {"vk", "telegram"}
    assert {p["status"] for p in items} == {"publishing"}
    executions = {e["name"]: e for e in ready.executions()}
    assert set(executions) == {p["id"] for p in items}
    for publication in items:
        described = ready.sfn.describe_execution(executionArn=executions[publication["id"]]["executionArn"])
        payload = json.loads(described["input"])
        assert payload == {
            "publicationId": publication["id"],
            "platform": publication["platform"],
            "retryDelays": [1, 1, 1],  # the RetryDelaysSeconds parameter of the test stack
            "retry": {"index": 0, "max": 3, "waits": {"n": 0}},
            "limits": {"processingSeconds": 7200, "queueWaits": 12},
        }
    assert sorted(p["id"] for p in publications_of(ready)) == sorted(p["id"] for p in items)


def test_scheduled_publication_waits_in_scheduled_status_and_passes_its_time(ready):
    at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    moscow = at.astimezone(timezone(timedelta(hours=3)))
    response = ready.api(
        "POST", "/clips/clip-1/publications", body=body("vk", scheduledAt=moscow.isoformat())
    )

    assert response.status == 201, response.body
    (publication,) = response.body["items"]
    assert publication["status"] == "scheduled"
    assert datetime.fromisoformat(publication["scheduledAt"]) == at
    (execution,) = [e for e in ready.executions() if e["name"] == publication["id"]]
    payload = json.loads(ready.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert payload["scheduledAt"] == at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_unknown_clip_and_other_users_clip_are_404(ready):
    ready.ready_clip(user="user-2", clip_id="theirs")
    ready.connect("user-2", VK)
    for clip_id in ("nope", "theirs"):
        response = ready.api("POST", f"/clips/{clip_id}/publications", body=body("vk"))
        assert response.status == 404
        assert response.body["error"]["code"] == "CLIP_NOT_FOUND"
    assert ready.executions() == []


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (ClipStatus.INVALID, "CLIP_INVALID", "Клип не прошёл проверку"),
        (ClipStatus.DELETED, "CLIP_FILE_MISSING", "Файл клипа не найден"),
    ],
)
def test_clips_that_did_not_pass_validation_are_422(ready, status, code, message):
    stored_clip(ready, clip_id="bad", size=10, status=status)
    response = ready.api("POST", "/clips/bad/publications", body=body("vk"))
    assert response.status == 422
    assert response.body["error"]["code"] == code
    assert response.body["error"]["message"].startswith(message)


def test_too_large_for_telegram_names_the_limit_in_the_seeds_words_and_creates_nothing(ready):
    stored_clip(ready, size=100 * MB)
    response = ready.api("POST", "/clips/big/publications", body=body("vk", "telegram"))

    assert response.status == 422
    error = response.body["error"]
    assert error["code"] == "FILE_TOO_LARGE"
    assert error["message"] == "Файл слишком большой для Telegram (максимум 50 МБ)"
    assert error["details"]["platforms"] == {
        "telegram": {
            "code": "FILE_TOO_LARGE",
            "message": "Файл слишком большой для Telegram (максимум 50 МБ)",
        }
    }
    assert publications_of(ready) == []
    assert ready.executions() == []
    # The user drops Telegram and publishes to the rest.
    assert ready.api("POST", "/clips/big/publications", body=body("vk")).status == 201


def test_a_local_bot_api_server_lifts_the_telegram_limit(ready, monkeypatch):
    stored_clip(ready, size=100 * MB)
    monkeypatch.setenv("TELEGRAM_LOCAL_BOT_API", "true")
    runtime.reset()
    assert ready.api("POST", "/clips/big/publications", body=body("telegram")).status == 201


def test_one_422_lists_every_failing_platform_with_its_own_reason(harness):
    harness.connect("user-1", VK, TG)
    stored_clip(harness, size=100 * MB, duration=400)
    response = harness.api(
        "POST", "/clips/big/publications", body=body("vk", "telegram", "rutube"), plan="free"
    )

    assert response.status == 422
    error = response.body["error"]
    assert error["code"] == "PLATFORM_CHECKS_FAILED"
    assert error["details"]["platforms"] == {
        "vk": {"code": "CLIP_TOO_LONG", "message": "Клип слишком длинный для VK (максимум 3 мин)"},
        "telegram": {
            "code": "FILE_TOO_LARGE",
            "message": "Файл слишком большой для Telegram (максимум 50 МБ)",
        },
        "rutube": {"code": "PLATFORM_NOT_IN_PLAN", "message": "Rutube недоступен на вашем тарифе"},
    }
    assert publications_of(harness) == []


def test_plan_is_checked_before_connection(harness):
    harness.ready_clip()
    response = harness.api("POST", "/clips/clip-1/publications", body=body("dzen"), plan="free")
    assert response.body["error"]["code"] == "PLATFORM_NOT_IN_PLAN"
    response = harness.api("POST", "/clips/clip-1/publications", body=body("dzen"), plan="pro")
    assert response.body["error"]["code"] == "PLATFORM_NOT_CONNECTED"
    assert response.body["error"]["message"] == "Дзен не подключён"


def test_missing_plan_claim_means_the_free_plan(harness):
    harness.ready_clip()
    harness.connect("user-1", RUTUBE)
    response = harness.api("POST", "/clips/clip-1/publications", body=body("rutube"), plan=None)
    assert response.body["error"]["code"] == "PLATFORM_NOT_IN_PLAN"


def test_an_expired_connection_asks_to_reconnect(harness):
    harness.ready_clip()
    harness.connect("user-1", VK, status=ConnectionStatus.EXPIRED)
    response = harness.api("POST", "/clips/clip-1/publications", body=body("vk"))
    assert response.status == 422
    assert response.body["error"]["code"] == "CONNECTION_EXPIRED"
    assert response.body["error"]["message"] == "Токен истёк, переподключите платформу"


@pytest.mark.parametrize(
    ("scheduled_at", "code", "field_type"),
    [
        ("2030-01-01T10:00:00", "VALIDATION_ERROR", "timezone_aware"),
        ("tomorrow", "VALIDATION_ERROR", "datetime_from_date_parsing"),
        (timedelta(minutes=-1), "INVALID_SCHEDULE", None),
        (timedelta(days=366), "INVALID_SCHEDULE", None),
    ],
    ids=["naive", "not-a-date", "past", "beyond-a-year"],
)
def test_scheduled_at_must_be_aware_future_and_within_a_year(ready, scheduled_at, code, field_type):
    if isinstance(scheduled_at, timedelta):
        scheduled_at = (datetime.now(UTC) + scheduled_at).isoformat()
    response = ready.api("POST", "/clips/clip-1/publications", body=body("vk", scheduledAt=scheduled_at))
    assert response.status == 422
    assert response.body["error"]["code"] == code
    if field_type:
        (problem,) = response.body["error"]["details"]["fields"]
        assert (problem["field"], problem["type"]) == ("scheduledAt", field_type)
    assert publications_of(ready) == []


def test_a_year_ahead_is_still_accepted(ready):
    at = datetime.now(UTC) + timedelta(days=364)
    assert (
        ready.api("POST", "/clips/clip-1/publications", body=body("vk", scheduledAt=at.isoformat())).status
        == 201
    )


def test_a_second_active_publication_for_the_same_clip_and_platform_is_409(ready):
    assert ready.api("POST", "/clips/clip-1/publications", body=body("vk")).status == 201
    response = ready.api("POST", "/clips/clip-1/publications", body=body("telegram", "vk"))
    assert response.status == 409
    assert response.body["error"]["code"] == "DUPLICATE_PUBLICATION"
    assert response.body["error"]["details"] == {"platforms": ["vk"]}
    # All or nothing: Telegram was not created either.
    assert {p["platform"] for p in publications_of(ready)} == {"vk"}


def test_after_cancelling_the_clip_can_be_scheduled_again(ready):
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    first = ready.api("POST", "/clips/clip-1/publications", body=body("vk", scheduledAt=at)).body["items"][0]
    assert ready.api("POST", f"/publications/{first['id']}/cancel").status == 200
    assert ready.api("POST", "/clips/clip-1/publications", body=body("vk", scheduledAt=at)).status == 201


def test_if_the_orchestrator_cannot_start_nothing_stays_behind(ready, monkeypatch):
    real_arn = ready.stack.ref("PublishStateMachine")
    monkeypatch.setenv("PUBLISH_STATE_MACHINE_ARN", real_arn + "-missing")
    runtime.reset()
    response = ready.api("POST", "/clips/clip-1/publications", body=body("vk", "telegram"))
    assert response.status == 503
    assert response.body["error"]["code"] == "ORCHESTRATION_UNAVAILABLE"
    assert publications_of(ready) == []

    monkeypatch.setenv("PUBLISH_STATE_MACHINE_ARN", real_arn)
    runtime.reset()
    # The guards of the rolled-back publications do not block a new attempt.
    assert ready.api("POST", "/clips/clip-1/publications", body=body("vk", "telegram")).status == 201


@pytest.mark.parametrize(
    ("duration_ms", "code"),
    [(600_000.0, "CLIP_TOO_LONG"), (None, "CLIP_DURATION_UNKNOWN")],
)
def test_a_webm_too_long_or_of_unknown_length_cannot_go_where_a_limit_applies(ready, duration_ms, code):
    ready.upload("user-1", "long-webm", webm(duration_ms), extension="webm")
    ready.validate_uploads()
    response = ready.api("POST", "/clips/long-webm/publications", body=body("vk", "telegram"))
    assert response.status == 422
    assert response.body["error"]["details"]["platforms"]["vk"]["code"] == code
    assert "telegram" not in response.body["error"]["details"]["platforms"]  # no duration limit there


def test_answers_keep_cyrillic_as_it_is_and_one_time_format(ready):
    response = ready.api("POST", "/clips/clip-1/publications", body=body("vk", title="Закат над Волгой"))
    assert response.status == 201
    assert "Закат над Волгой" in response.text and "\\u0417" not in response.text
    (publication,) = response.body["items"]
    for name in ("createdAt", "updatedAt"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", publication[name]), publication[name]
