"""The main job end to end: request → execution → platform queue → worker → platform →
DynamoDB, with moto executing the state machine and the emulators playing the platforms."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from autopost.models import ConnectionStatus
from autopost.platforms import Platform
from autopost.secrets import token_cipher
from autopost.settings import get_settings
from autopost.storage.connections import ConnectionRepository
from autopost.storage.publications import PublicationRepository
from autopost.storage.tables import records
from tests.support.videos import make_video

FINAL = ("published", "failed", "cancelled")


@pytest.fixture
def flow(executing, platforms):
    executing.ready_clip()
    return executing


def publish(harness, *platforms_, **extra):
    response = harness.api(
        "POST",
        "/clips/clip-1/publications",
        body={"platforms": list(platforms_), "title": "Закат", "description": "Волга", **extra},
    )
    assert response.status == 201, response.body
    return {p["platform"]: p["id"] for p in response.body["items"]}


def execution_of(harness, publication_id):
    return next(e for e in harness.executions() if e["name"] == publication_id)


def wait_execution(harness, publication_id, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = execution_of(harness, publication_id)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.2)
    raise AssertionError("execution still running")


def test_complete_flow_publishes_to_vk_and_telegram(flow, platforms):
    flow.connect_platform(platforms, Platform.VK)
    flow.connect_platform(platforms, Platform.TELEGRAM)
    ids = publish(flow, "vk", "telegram")

    flow.run_workers(lambda: all(flow.status_is(i, *FINAL)() for i in ids.values()))

    clip = make_video("mp4")
    vk, telegram = flow.publication(ids["vk"]), flow.publication(ids["telegram"])
    assert (vk["status"], telegram["status"]) == ("published", "published")
    (video,) = platforms.vk.uploaded_videos()
    assert video.is_short
    assert video.sha256 == hashlib.sha256(clip).hexdigest()
    assert vk["post"] == {"id": f"1001_{video.video_id}", "url": f"https://vk.com/clip1001_{video.video_id}"}
    (message,) = platforms.telegram.messages
    assert message["bytes"] == len(clip)
    assert message["caption"] == "Закат\n\nВолга"
    assert telegram["post"]["url"].startswith("https://t.me/")
    assert telegram["stats"]["available"] is False
    assert telegram["stats"]["message"] == "Статистика недоступна"
    for publication_id in ids.values():
        assert wait_execution(flow, publication_id)["status"] == "SUCCEEDED"
    stored = PublicationRepository(get_settings()).get(ids["vk"])
    assert stored.processing_state == "processing"
    assert stored.upload_checkpoint is None


def test_scheduled_publication_waits_then_publishes(flow, platforms):
    flow.connect_platform(platforms, Platform.RUTUBE)
    at = datetime.now(UTC) + timedelta(seconds=6)
    ids = publish(flow, "rutube", scheduledAt=at.isoformat())
    assert flow.publication(ids["rutube"])["status"] == "scheduled"

    flow.run_workers(flow.status_is(ids["rutube"], *FINAL), timeout=30)

    # moto truncates both the timestamp and the remaining wait to whole seconds: up to 2 s early.
    assert datetime.now(UTC) >= at - timedelta(seconds=2)
    assert flow.publication(ids["rutube"])["status"] == "published"
    assert len([v for v in platforms.rutube.videos.values() if v.complete]) == 1


def test_cancel_during_the_wait_posts_nothing(flow, platforms):
    flow.connect_platform(platforms, Platform.VK)
    ids = publish(flow, "vk", scheduledAt=(datetime.now(UTC) + timedelta(seconds=5)).isoformat())
    assert flow.api("POST", f"/publications/{ids['vk']}/cancel").status == 200
    time.sleep(5)
    flow.run_workers(lambda: True)
    assert wait_execution(flow, ids["vk"])["status"] == "ABORTED"
    assert flow.publication(ids["vk"])["status"] == "cancelled"
    assert platforms.vk.calls_to("video.save") == []


def test_disconnect_during_the_wait_posts_nothing(flow, platforms):
    flow.connect_platform(platforms, Platform.TELEGRAM)
    ids = publish(flow, "telegram", scheduledAt=(datetime.now(UTC) + timedelta(seconds=5)).isoformat())
    assert flow.api("DELETE", "/connections/telegram").body["cancelledPublications"] == 1
    time.sleep(5)
    flow.run_workers(lambda: True)
    assert flow.publication(ids["telegram"])["status"] == "cancelled"
    assert platforms.telegram.messages == []


def test_platform_down_is_retried_three_times_then_failed_with_its_message(flow, platforms):
    flow.connect_platform(platforms, Platform.VK)
    platforms.vk.inject("video.save", "http_500", times=4)
    ids = publish(flow, "vk")

    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=40)

    failed = flow.publication(ids["vk"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "PlatformUnavailable", "message": "VK временно недоступен"}
    assert len(platforms.vk.calls_to("video.save")) == 4
    assert platforms.vk.uploaded_videos() == []
    # The user retries by hand once VK is back.
    assert flow.api("POST", f"/publications/{ids['vk']}/retry").status == 200
    flow.run_workers(flow.status_is(ids["vk"], "published"), timeout=20)
    assert len(platforms.vk.uploaded_videos()) == 1


def test_a_429_is_waited_out_without_counting_as_a_failure(flow, platforms):
    flow.connect_platform(platforms, Platform.TELEGRAM)
    platforms.telegram.inject("sendVideo", "rate_limit", retry_after=2)
    ids = publish(flow, "telegram")
    started = time.monotonic()

    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=30)

    assert time.monotonic() - started >= 2
    assert flow.publication(ids["telegram"])["status"] == "published"
    assert len(platforms.telegram.messages) == 1
    execution = wait_execution(flow, ids["telegram"])
    history = flow.sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)[
        "events"
    ]
    assert not any(e.get("stateEnteredEventDetails", {}).get("name") == "NextRetry" for e in history)


def entered_states(harness, publication_id):
    execution = execution_of(harness, publication_id)
    history = harness.sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)[
        "events"
    ]
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def test_a_long_rate_limit_is_handed_to_the_state_machine_and_not_counted(flow, platforms):
    flow.connect_platform(platforms, Platform.RUTUBE)
    platforms.rutube.inject("upload-session", "rate_limit", retry_after=600)
    ids = publish(flow, "rutube")

    flow.run_workers(lambda: "WaitRateLimit" in entered_states(flow, ids["rutube"]), timeout=15)

    wait_until = datetime.fromisoformat(
        records(get_settings()).publication.get(ids["rutube"]).retry_not_before
    )
    assert timedelta(seconds=590) < wait_until - datetime.now(UTC) < timedelta(seconds=610)
    assert "NextRetry" not in entered_states(flow, ids["rutube"])
    publication = flow.publication(ids["rutube"])
    assert publication["status"] == "publishing"
    assert publication["error"] is None  # waiting is not an error


def test_an_expired_token_is_refreshed_and_the_clip_published(flow, platforms):
    credentials = flow.connect_platform(platforms, Platform.VK)
    platforms.vk.expire_token(credentials.access_token.get_secret_value())
    ids = publish(flow, "vk")

    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=20)

    assert flow.publication(ids["vk"])["status"] == "published"
    assert [c["grant_type"] for c in platforms.vk.calls_to("oauth2/auth")] == ["refresh_token"]
    connection = ConnectionRepository(get_settings(), token_cipher()).get("user-1", Platform.VK)
    assert connection.status is ConnectionStatus.ACTIVE
    assert connection.version == 2


def test_a_failed_refresh_fails_at_once_and_asks_to_reconnect(flow, platforms):
    credentials = flow.connect_platform(platforms, Platform.VK)
    platforms.vk.expire_token(credentials.access_token.get_secret_value())
    platforms.vk.inject("oauth2/auth", "token_expired")
    ids = publish(flow, "vk")

    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=20)

    failed = flow.publication(ids["vk"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "TokenExpired", "message": "Токен истёк, переподключите платформу"}
    assert len(platforms.vk.calls_to("video.save")) == 1  # no retry
    connection = ConnectionRepository(get_settings(), token_cipher()).get("user-1", Platform.VK)
    assert connection.status is ConnectionStatus.EXPIRED
    assert datetime.now(UTC) - connection.expires_at < timedelta(seconds=30)


def test_a_clip_deleted_before_upload_fails_at_once(flow, platforms):
    flow.connect_platform(platforms, Platform.VK)
    ids = publish(flow, "vk")
    flow.s3.delete_object(Bucket=flow.bucket, Key="clips/user-1/clip-1.mp4")

    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=20)

    failed = flow.publication(ids["vk"])
    assert failed["error"] == {"code": "ClipMissing", "message": "Файл клипа не найден"}
    execution = wait_execution(flow, ids["vk"])
    history = flow.sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)[
        "events"
    ]
    assert not any(e.get("stateEnteredEventDetails", {}).get("name") == "NextRetry" for e in history)
    assert platforms.vk.calls_to("video.save") == []


def test_a_duplicate_message_posts_once(flow, platforms):
    flow.connect_platform(platforms, Platform.TELEGRAM)
    ids = publish(flow, "telegram")
    queue = flow.stack.ref("TelegramUploadQueue")
    (message,) = flow.sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5, VisibilityTimeout=0)["Messages"]
    flow.sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])  # delivered twice

    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=20)
    time.sleep(0.5)
    flow.run_workers(lambda: True)
    flow.run_workers(
        lambda: (
            flow.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
            == "0"
        ),
        timeout=10,
    )

    assert flow.publication(ids["telegram"])["status"] == "published"
    assert len(platforms.telegram.messages) == 1


@pytest.mark.task_timeout(4)
def test_a_worker_that_died_after_the_platform_answered_does_not_post_again(flow, platforms):
    """The dead worker recorded the post id and stopped before `published`; the next
    attempt (after the task timeout) finds the post and finishes."""
    flow.connect_platform(platforms, Platform.TELEGRAM)
    ids = publish(flow, "telegram")
    queue = flow.stack.ref("TelegramUploadQueue")
    (message,) = flow.sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    task = json.loads(message["Body"])
    # What the worker had done when it died: the platform answered, the post id was saved.
    PublicationRepository(get_settings()).record_post(
        task["publicationId"], "-1001:555", "https://t.me/c/1/555", None
    )
    flow.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    # Nobody answers the task; it times out and the state machine sends the next attempt.
    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=30)

    published = flow.publication(ids["telegram"])
    assert published["status"] == "published"
    assert published["post"] == {"id": "-1001:555", "url": "https://t.me/c/1/555"}
    assert platforms.telegram.messages == []


def test_a_vk_upload_broken_mid_way_finishes_the_same_video_on_retry(flow, platforms):
    flow.connect_platform(platforms, Platform.VK)
    platforms.vk.inject("upload/video", "cut", after_bytes=500)
    ids = publish(flow, "vk")

    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=30)

    assert flow.publication(ids["vk"])["status"] == "published"
    assert len(platforms.vk.calls_to("video.save")) == 1
    assert len(platforms.vk.uploaded_videos()) == 1


def test_rutube_out_of_time_continues_in_the_next_attempt_without_counting(flow, platforms, monkeypatch):
    flow.connect_platform(platforms, Platform.RUTUBE)
    ids = publish(flow, "rutube")
    # A first attempt with 90 s left: no time for a chunk, so it hands over at once.
    flow.run_workers(
        lambda: PublicationRepository(get_settings()).get(ids["rutube"]).upload_checkpoint is not None,
        remaining_seconds=90,
    )
    flow.run_workers(flow.status_is(ids["rutube"], *FINAL), timeout=20)

    assert flow.publication(ids["rutube"])["status"] == "published"
    assert len(platforms.rutube.calls_to("upload-session")) == 1
    execution = wait_execution(flow, ids["rutube"])
    history = flow.sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)[
        "events"
    ]
    assert not any(e.get("stateEnteredEventDetails", {}).get("name") == "NextRetry" for e in history)


def test_dzen_and_the_services_telegram_bot(flow, platforms, monkeypatch):
    flow.connect_platform(platforms, Platform.DZEN)
    ids = publish(flow, "dzen")
    flow.run_workers(flow.status_is(ids["dzen"], *FINAL), timeout=20)
    assert flow.publication(ids["dzen"])["status"] == "published"
    assert [v.published for v in platforms.dzen.videos.values()] == [True]
