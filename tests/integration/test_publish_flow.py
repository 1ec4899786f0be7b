"""The main job end to end: request → execution → platform queue → worker → platform →
DynamoDB, with moto executing the state machine and the emulators playing the platforms."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from autopost.domain.models import ConnectionStatus
from autopost.domain.platforms import Platform
from autopost.domain.statuses import PublicationStatus
from autopost.infra.secrets import token_cipher
from autopost.infra.settings import get_settings
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
    flow.connect_platform(platforms, Platform.VK, session=True)
    flow.connect_platform(platforms, Platform.TELEGRAM)
    ids = publish(flow, "vk", "telegram")

    flow.run_workers(lambda: all(flow.status_is(i, *FINAL)() for i in ids.values()))

    clip = make_video("mp4")
    vk, telegram = flow.publication(ids["vk"]), flow.publication(ids["telegram"])
    assert (vk["status"], telegram["status"]) == ("published", "published")
    (video,) = platforms.vk.uploaded_videos()
    assert video.is_short and video.published
    assert video.sha256 == hashlib.sha256(clip).hexdigest()
    assert vk["post"] == {"id": f"1001_{video.video_id}", "url": f"https://vk.com/clip1001_{video.video_id}"}
    assert (vk["format"], vk["publishedAs"]) == ("clip", "clip")
    (message,) = platforms.telegram.messages
    assert message["bytes"] == len(clip)
    assert message["caption"] == "Закат\n\nВолга"
    # What the validator read goes with the video: Telegram shows the clip in its shape.
    assert (message["fields"]["width"], message["fields"]["height"], message["fields"]["duration"]) == (
        "64",
        "48",
        "2",
    )
    assert telegram["post"]["url"].startswith("https://t.me/")
    assert telegram["stats"]["available"] is False
    assert telegram["stats"]["message"] == "Статистика недоступна"
    assert telegram["format"] is None
    for publication_id in ids.values():
        assert wait_execution(flow, publication_id)["status"] == "SUCCEEDED"
    stored = PublicationRepository(get_settings()).get(ids["vk"])
    assert stored.processing_state == "ready"
    assert stored.upload_checkpoint is None


def test_a_vk_clip_that_needs_two_checks_waits_in_the_state_machine(flow, platforms):
    """VK encodes the clip for a while: the worker answers «still processing» and the state
    machine waits and asks again; no Lambda sleeps. The transitions are counted."""
    flow.connect_platform(platforms, Platform.VK, session=True)
    platforms.vk.processing_checks = 2
    ids = publish(flow, "vk")

    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=60)

    assert flow.publication(ids["vk"])["status"] == "published"
    states = entered_states(flow, ids["vk"])
    assert states.count("WaitProcessingVk") == 2
    assert [c["ready"] for c in platforms.vk.calls_to("shortVideo.encodeProgress")] == [False, False, True]
    assert len(states) == 14  # docs/state-machine.md
    assert "NextRetry" not in states


def test_a_vk_id_connection_publishes_a_regular_video_and_says_so(flow, platforms):
    """VK keeps the clip methods from a third-party app's token: a clip asked for over an
    OAuth connection goes out as a regular video, and the publication says so."""
    flow.connect_platform(platforms, Platform.VK)
    ids = publish(flow, "vk")

    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=60)

    published = flow.publication(ids["vk"])
    assert published["status"] == "published"
    assert (published["format"], published["publishedAs"]) == ("clip", "video")
    (video,) = platforms.vk.uploaded_videos()
    assert published["post"]["url"] == f"https://vk.com/video1001_{video.video_id}"
    assert platforms.vk.calls_to("shortVideo.create") == []


def test_vk_format_video_is_asked_for_in_the_request(flow, platforms):
    flow.connect_platform(platforms, Platform.VK, session=True)
    ids = publish(flow, "vk", vk={"format": "video"})
    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=60)
    published = flow.publication(ids["vk"])
    assert (published["format"], published["publishedAs"]) == ("video", "video")
    assert platforms.vk.calls_to("shortVideo.create") == []


def test_a_vk_community_gets_the_clip(flow, platforms):
    flow.connect_platform(platforms, Platform.VK, session=True, group_id=2001)
    ids = publish(flow, "vk")
    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=60)
    (video,) = platforms.vk.uploaded_videos()
    assert video.owner_id == -2001
    assert flow.publication(ids["vk"])["post"]["id"] == f"-2001_{video.video_id}"


def test_a_video_vk_refuses_after_upload_fails_with_vks_reason(flow, platforms):
    flow.connect_platform(platforms, Platform.VK)
    platforms.vk.inject("processing", "restricted", message="Нарушение правил сообщества")
    ids = publish(flow, "vk")
    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=60)
    failed = flow.publication(ids["vk"])
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": "Rejected",
        "message": "VK не опубликовал видео: Нарушение правил сообщества",
    }


def test_processing_that_never_ends_fails_with_its_own_error_at_the_cap(flow, platforms, monkeypatch):
    monkeypatch.setenv("PROCESSING_TIMEOUT_SECONDS", "60")
    from autopost.infra import runtime

    runtime.reset()
    flow.connect_platform(platforms, Platform.VK, session=True)
    platforms.vk.processing_checks = 10_000
    ids = publish(flow, "vk")
    # The worker's clock runs ahead: the cap is reached at the next check.
    PublicationRepository(get_settings())  # settings read with the short cap
    flow.run_workers(lambda: "WaitProcessingVk" in entered_states(flow, ids["vk"]), timeout=20)
    records(get_settings()).publication(ids["vk"]).update(
        actions=[records(get_settings()).publication.processing_since.set("2000-01-01T00:00:00.000Z")]
    )
    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=20)

    failed = flow.publication(ids["vk"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "ProcessingTimedOut"
    assert "слишком долго" in failed["error"]["message"]


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


def test_rutube_imports_from_a_presigned_url_and_no_bytes_pass_through_the_worker(flow, platforms):
    flow.connect_platform(platforms, Platform.RUTUBE)
    ids = publish(flow, "rutube")
    flow.run_workers(flow.status_is(ids["rutube"], *FINAL), timeout=30)

    published = flow.publication(ids["rutube"])
    assert published["status"] == "published"
    (video,) = platforms.rutube.videos.values()
    assert video.sha256 == hashlib.sha256(make_video("mp4")).hexdigest()  # Rutube fetched it
    assert "X-Amz-Signature=" in video.source_url and "X-Amz-Expires=21600" in video.source_url
    # Signed by the RutubeImportSigner's key, not the function's temporary credentials.
    assert "X-Amz-Security-Token" not in video.source_url and "AKIALOCALRUTUBESIGNR" in video.source_url
    assert len(video.source_url.encode()) <= 512
    assert published["post"]["url"] == f"https://rutube.ru/video/{video.video_id}/"
    assert "WaitProcessingRutube" in entered_states(flow, ids["rutube"])


def test_without_the_import_signer_a_lambda_signed_url_is_too_long_for_rutube(flow, platforms, monkeypatch):
    """What the signer is for: a URL signed with a Lambda role's session token is refused."""
    from autopost.infra import runtime

    monkeypatch.delenv("RUTUBE_IMPORT_SIGNER_ARN")
    runtime.reset()
    flow.connect_platform(platforms, Platform.RUTUBE)
    ids = publish(flow, "rutube")
    flow.run_workers(flow.status_is(ids["rutube"], *FINAL), timeout=30)
    failed = flow.publication(ids["rutube"])
    assert failed["error"] == {"code": "Rejected", "message": "Rutube отклонил видео (url: Неправильный url)"}
    assert platforms.rutube.videos == {}


def test_a_rutube_import_that_fails_says_why(flow, platforms):
    flow.connect_platform(platforms, Platform.RUTUBE)
    platforms.rutube.inject("fetch", "http_500")
    ids = publish(flow, "rutube")
    flow.run_workers(flow.status_is(ids["rutube"], *FINAL), timeout=30)
    failed = flow.publication(ids["rutube"])
    assert failed["error"] == {
        "code": "Rejected",
        "message": "Rutube отклонил видео: Rutube не смог скачать файл клипа",
    }
    assert len(platforms.rutube.calls_to("import")) == 1


def waiting(harness, publication_id):
    """The execution has entered its Wait. (moto's StopExecution fails on an execution whose
    worker thread has not started yet: a race of the emulation, not of AWS.)"""
    deadline = time.monotonic() + 10
    while "WaitUntilScheduled" not in entered_states(harness, publication_id):
        assert time.monotonic() < deadline, "the execution never reached its wait"
        time.sleep(0.1)


def test_cancel_during_the_wait_posts_nothing(flow, platforms):
    flow.connect_platform(platforms, Platform.VK)
    # Far enough ahead that a loaded machine still cancels during the wait (the cancel is one
    # request once the execution waits); then past it.
    due = datetime.now(UTC) + timedelta(seconds=10)
    ids = publish(flow, "vk", scheduledAt=due.isoformat())
    waiting(flow, ids["vk"])
    assert flow.api("POST", f"/publications/{ids['vk']}/cancel").status == 200
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1)
    flow.run_workers(lambda: True)
    assert wait_execution(flow, ids["vk"])["status"] == "ABORTED"
    assert flow.publication(ids["vk"])["status"] == "cancelled"
    assert platforms.vk.calls_to("video.save") == []


def test_disconnect_during_the_wait_posts_nothing(flow, platforms):
    flow.connect_platform(platforms, Platform.TELEGRAM)
    due = datetime.now(UTC) + timedelta(seconds=10)
    ids = publish(flow, "telegram", scheduledAt=due.isoformat())
    waiting(flow, ids["telegram"])
    assert flow.api("DELETE", "/connections/telegram").body["cancelledPublications"] == 1
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1)
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
    platforms.rutube.inject("import", "rate_limit", retry_after=600)
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


def test_an_attempt_waits_while_another_holds_the_upload_then_posts_once(flow, platforms):
    """Another attempt still runs (one the state machine timed out, a redelivered message's
    twin): this one puts its message back until that one's deadline, then posts."""
    flow.connect_platform(platforms, Platform.TELEGRAM)
    ids = publish(flow, "telegram")
    repository = PublicationRepository(get_settings())
    # Long enough that a loaded machine still asks again within the hold.
    holding_until = datetime.now(UTC) + timedelta(seconds=8)
    assert repository.take_attempt(ids["telegram"], "another-attempt", holding_until) is None
    # While held, no second attempt gets it.
    assert repository.take_attempt(ids["telegram"], "third", holding_until) is not None

    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=30)

    (message,) = platforms.telegram.messages
    assert message["at"] >= holding_until.timestamp()
    assert flow.publication(ids["telegram"])["status"] == "published"


def test_a_post_made_after_the_state_machine_gave_up_ends_published(flow, platforms):
    """The attempt was slow (Telegram took its time), the state machine failed the
    publication meanwhile, then the post came out: the publication says published."""
    flow.connect_platform(platforms, Platform.TELEGRAM)
    ids = publish(flow, "telegram")
    platforms.telegram.inject("sendVideo", "slow", delay=2)
    attempt = threading.Thread(
        target=lambda: flow.run_workers(lambda: bool(platforms.telegram.messages), timeout=20)
    )
    attempt.start()
    deadline = time.monotonic() + 20
    while not platforms.telegram.calls_to("sendVideo") and time.monotonic() < deadline:
        time.sleep(0.05)
    PublicationRepository(get_settings()).transition(
        ids["telegram"],
        PublicationStatus.PUBLISHING,
        PublicationStatus.FAILED,
        error_code="PlatformUnavailable",
        error_message="Платформа не ответила вовремя",
    )
    attempt.join()

    (message,) = platforms.telegram.messages
    publication = flow.publication(ids["telegram"])
    assert publication["status"] == "published"
    assert publication["post"]["id"].endswith(f":{message['message_id']}")
    assert publication.get("error") is None


def test_a_vk_upload_broken_mid_way_finishes_the_same_video_on_retry(flow, platforms):
    flow.connect_platform(platforms, Platform.VK)
    platforms.vk.inject("upload/video", "cut", after_bytes=500)
    ids = publish(flow, "vk")

    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=60)

    assert flow.publication(ids["vk"])["status"] == "published"
    assert len(platforms.vk.calls_to("video.save")) == 1
    assert len(platforms.vk.uploaded_videos()) == 1


def test_dzen_out_of_time_continues_in_the_next_attempt_without_counting(flow, platforms):
    flow.connect_platform(platforms, Platform.DZEN)
    ids = publish(flow, "dzen")
    # A first attempt with 90 s left: no time for a chunk, so it hands over at once.
    flow.run_workers(
        lambda: (
            (PublicationRepository(get_settings()).get(ids["dzen"]).upload_checkpoint or {}).get("upload_url")
            is not None
        ),
        remaining_seconds=90,
    )
    flow.run_workers(flow.status_is(ids["dzen"], *FINAL), timeout=20)

    assert flow.publication(ids["dzen"])["status"] == "published"
    assert len(platforms.dzen.calls_to("add-publication")) == 1
    assert "NextRetry" not in entered_states(flow, ids["dzen"])


def test_dzen_publishes_through_the_studio_flow(flow, platforms):
    flow.connect_platform(platforms, Platform.DZEN)
    ids = publish(flow, "dzen")
    flow.run_workers(flow.status_is(ids["dzen"], *FINAL), timeout=30)
    published = flow.publication(ids["dzen"])
    assert published["status"] == "published"
    (video,) = platforms.dzen.published_videos()
    assert video.sha256 == hashlib.sha256(make_video("mp4")).hexdigest()
    assert (video.title, video.description) == ("Закат", "")  # no description: as VIPilot sent it
    assert published["notices"] == [
        "Дзен: описание не отправляется (так публикует единственный известный клиент)"
    ]
    assert "WaitProcessingDzen" in entered_states(flow, ids["dzen"])


def test_a_dzen_session_that_ended_asks_to_reconnect(flow, platforms):
    credentials = flow.connect_platform(platforms, Platform.DZEN)
    platforms.dzen.end_session(credentials.access_token.get_secret_value())
    ids = publish(flow, "dzen")
    flow.run_workers(flow.status_is(ids["dzen"], *FINAL), timeout=30)
    failed = flow.publication(ids["dzen"])
    assert failed["error"] == {"code": "TokenExpired", "message": "Токен истёк, переподключите платформу"}


def test_a_token_refused_again_after_its_refresh_fails_without_a_second_refresh(flow, platforms):
    """Refresh once: the platform refuses the token, we refresh, it refuses the new one
    too: the publication fails asking to reconnect; no loop of refreshes."""
    flow.connect_platform(platforms, Platform.VK)
    platforms.vk.inject("video.save", "token_expired", times=2)
    ids = publish(flow, "vk")

    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=60)

    failed = flow.publication(ids["vk"])
    assert failed["error"] == {"code": "TokenExpired", "message": "Токен истёк, переподключите платформу"}
    assert [c["grant_type"] for c in platforms.vk.calls_to("oauth2/auth")] == ["refresh_token"]
    assert platforms.vk.uploaded_videos() == []


@pytest.mark.parametrize(
    "key", ["clips/user-2/clip-1.mp4", "clips/user-1/../user-2/clip-1.mp4", "clips/user-1/clip-1.exe"]
)
def test_the_worker_checks_the_clip_is_the_publications_users_own(flow, platforms, key):
    """Whatever the record says, the worker uploads only the publication's user's clip."""
    flow.upload("user-2", "clip-1", make_video("mp4"))  # another user's clip, really there
    flow.connect_platform(platforms, Platform.TELEGRAM)
    ids = publish(flow, "telegram")
    table = records(get_settings()).publication
    table(ids["telegram"]).update(actions=[table.clip_key.set(key)])

    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=20)

    failed = flow.publication(ids["telegram"])
    assert failed["error"] == {"code": "Rejected", "message": "Некорректный путь к файлу клипа"}
    assert platforms.telegram.messages == []


def test_the_worker_never_posts_before_the_scheduled_time_whatever_woke_it(flow, platforms):
    """A message delivered early (moto's Wait ends up to 2 s early; clocks differ): the
    worker waits out the rest (here 4 s: it delays its message) and posts on time."""
    flow.connect_platform(platforms, Platform.TELEGRAM)
    at = datetime.now(UTC) + timedelta(seconds=60)
    ids = publish(flow, "telegram", scheduledAt=at.isoformat())
    waiting(flow, ids["telegram"])
    flow.sfn.stop_execution(executionArn=execution_of(flow, ids["telegram"])["executionArn"])
    early = datetime.now(UTC) + timedelta(seconds=4)
    table = records(get_settings()).publication
    table(ids["telegram"]).update(
        actions=[
            table.status.set("publishing"),
            table.scheduled_at.set(early.isoformat().replace("+00:00", "Z")),
        ]
    )
    task = {"publicationId": ids["telegram"], "platform": "telegram", "retry": 0, "taskToken": "early-token"}
    flow.sqs.send_message(QueueUrl=flow.stack.ref("TelegramUploadQueue"), MessageBody=json.dumps(task))

    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=30)

    (message,) = platforms.telegram.messages
    assert message["at"] >= early.timestamp()
    assert flow.publication(ids["telegram"])["status"] == "published"


@contextmanager
def vk_took_the_clip_as_the_state_machine_gave_up(flow, platforms):
    """A VK clip whose attempt is inside VK's (slow) first status read when the publication
    is failed, as the state machine's MarkFailed does; the body runs then, before the
    attempt's answer comes back."""
    flow.connect_platform(platforms, Platform.VK, session=True)
    platforms.vk.processing_checks = 1
    ids = publish(flow, "vk")
    platforms.vk.inject("shortVideo.encodeProgress", "slow", delay=2)
    attempt = threading.Thread(
        target=lambda: flow.run_workers(
            lambda: bool(platforms.vk.calls_to("shortVideo.encodeProgress")), timeout=30
        )
    )
    attempt.start()
    deadline = time.monotonic() + 30
    while not platforms.vk.calls_to("shortVideo.encodeProgress") and time.monotonic() < deadline:
        time.sleep(0.05)
    PublicationRepository(get_settings()).transition(
        ids["vk"],
        PublicationStatus.PUBLISHING,
        PublicationStatus.FAILED,
        error_code="PlatformUnavailable",
        error_message="Платформа не ответила вовремя",
    )
    yield ids["vk"]
    attempt.join()


def test_a_clip_vk_took_after_the_state_machine_gave_up_is_adopted_not_uploaded_again(flow, platforms):
    """The attempt's upload went through just as the state machine failed the publication:
    VK is processing the clip. The publication goes on under a new execution (adopted), ends
    published, and VK holds one clip: it was never uploaded again."""
    with vk_took_the_clip_as_the_state_machine_gave_up(flow, platforms) as publication_id:
        pass

    flow.run_workers(flow.status_is(publication_id, "published"), timeout=60)

    publication = flow.publication(publication_id)
    assert publication["status"] == "published"
    assert publication.get("error") is None
    assert len(platforms.vk.calls_to("shortVideo.create")) == 1
    stored = PublicationRepository(get_settings()).get(publication_id)
    assert stored.execution_name == f"{publication_id}-adopt-1"


def test_a_late_upload_the_user_retried_meanwhile_is_not_adopted_twice(flow, platforms):
    """The user pressed «retry» while the late upload went through: the retry's execution
    resumes that very upload; no second execution is started and VK holds one clip."""
    with vk_took_the_clip_as_the_state_machine_gave_up(flow, platforms) as publication_id:
        assert flow.api("POST", f"/publications/{publication_id}/retry").status == 200

    flow.run_workers(flow.status_is(publication_id, "published"), timeout=60)

    assert len(platforms.vk.calls_to("shortVideo.create")) == 1
    names = [e["name"] for e in flow.executions() if e["name"].startswith(publication_id)]
    assert sorted(names) == sorted([publication_id, f"{publication_id}-retry-1"])


def test_the_services_bot_posts_only_to_a_channel_its_user_proved(flow, platforms, monkeypatch):
    """A connection made before channels had to be proven holds no claim: the worker does
    not post through the service's bot until the channel is bound to the user."""
    from pydantic import SecretStr

    from autopost.domain.models import Account, Credentials
    from autopost.infra import runtime
    from autopost.storage.channel_claims import ChannelClaims

    service_bot = platforms.telegram.add_bot("service_bot")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", service_bot)
    runtime.reset()
    chat_id = str(platforms.telegram.add_channel("someones_channel", admin_bots=(service_bot,)))
    extra = {"channel": "@someones_channel", "chat_id": chat_id, "service_bot": "1"}
    ConnectionRepository(get_settings(), token_cipher()).connect(
        "user-1", Platform.TELEGRAM, Account(chat_id, "Канал", extra), Credentials(SecretStr(""), extra=extra)
    )
    ids = publish(flow, "telegram")
    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=30)
    refused = flow.publication(ids["telegram"])
    assert refused["status"] == "failed"
    assert refused["error"]["code"] == "ConnectionMissing"
    assert "не подтверждён" in refused["error"]["message"]
    assert platforms.telegram.messages == []

    assert ChannelClaims(get_settings()).claim(chat_id, "user-1")  # proven now
    assert flow.api("POST", f"/publications/{ids['telegram']}/retry").status == 200
    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=30)
    assert flow.publication(ids["telegram"])["status"] == "published"
    assert len(platforms.telegram.messages) == 1


def test_a_vk_session_vk_ended_fails_in_its_words_and_flags_the_connection(flow, platforms):
    """No retry loop: the publication fails asking to connect VK again, the connection says
    the same, and VK was asked for a web token only twice (the attempt, then the check)."""
    credentials = flow.connect_platform(platforms, Platform.VK, session=True)
    platforms.vk.end_session(credentials.access_token.get_secret_value())
    ids = publish(flow, "vk")

    flow.run_workers(flow.status_is(ids["vk"], *FINAL), timeout=30)

    failed = flow.publication(ids["vk"])
    assert failed["error"] == {
        "code": "VK_SESSION_EXPIRED",
        "message": "Сессия VK истекла, подключите VK заново",
    }
    assert len(platforms.vk.calls_to("web_token")) == 2
    assert platforms.vk.calls_to("shortVideo.create") == []
    connection = ConnectionRepository(get_settings(), token_cipher()).get("user-1", Platform.VK)
    assert connection.status is ConnectionStatus.EXPIRED
    listed = flow.api("GET", "/connections").body["items"]
    assert listed[0]["warning"] == "Сессия VK истекла, подключите VK заново"


def test_a_caption_of_emoji_past_telegrams_limit_is_said_first_then_posted_shortened(flow, platforms):
    """Telegram counts UTF-16 code units: the publish answer says the caption will be
    shortened (and so does the publication from then on); the post goes out with its head."""
    flow.connect_platform(platforms, Platform.TELEGRAM)
    sunset = "\U0001f305"
    response = flow.api(
        "POST",
        "/clips/clip-1/publications",
        body={"platforms": ["telegram"], "title": "Закат " + sunset * 100, "description": sunset * 500},
    )
    assert response.status == 201, response.body
    (created,) = response.body["items"]
    (notice,) = created["notices"]
    assert "1208 знаков из 1024" in notice and "эмодзи считаются за два" in notice

    flow.run_workers(flow.status_is(created["id"], *FINAL), timeout=30)

    assert flow.publication(created["id"])["status"] == "published"
    assert flow.publication(created["id"])["notices"] == [notice]
    (message,) = platforms.telegram.messages
    assert len(message["caption"].encode("utf-16-le")) // 2 <= 1024
    assert message["caption"].endswith("…")


def test_a_bot_that_lost_the_right_to_post_fails_with_the_rights_code_and_message(flow, platforms):
    """Telegram answers 400 "need administrator rights in the channel chat" to an
    administrator without the post right (teloxide#450): the publication fails at once with
    its own code and says what to change, not «код 400»."""
    credentials = flow.connect_platform(platforms, Platform.TELEGRAM)
    bot = platforms.telegram.bots[credentials.access_token.get_secret_value()]
    platforms.telegram.channels[int(credentials.account_id)].admins[bot.user_id] = False
    ids = publish(flow, "telegram")

    flow.run_workers(flow.status_is(ids["telegram"], *FINAL), timeout=30)

    failed = flow.publication(ids["telegram"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "TELEGRAM_NO_POST_RIGHTS"
    assert "администратором с правом публикации" in failed["error"]["message"]
    assert platforms.telegram.messages == []


def test_what_dzen_will_not_carry_is_said_in_the_publish_answer(harness, platforms):
    """What the publish answer says: no state machine needs to run."""
    harness.ready_clip()
    harness.connect_platform(platforms, Platform.DZEN)
    response = harness.api(
        "POST",
        "/clips/clip-1/publications",
        body={"platforms": ["dzen"], "title": "З" * 120, "description": "Волга"},
    )
    assert response.status == 201, response.body
    (created,) = response.body["items"]
    assert created["notices"] == [
        "Дзен: описание не отправляется (так публикует единственный известный клиент)",
        "Дзен: заголовок будет сокращён до 100 знаков",
    ]
