"""statemachines/publish.asl.json, executed by moto. The test answers the upload task the
way a worker does (the queue message carries the task token), so every path of the
definition is driven; the worker's own tests drive it with the real worker."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from autopost.domain.platforms import Platform
from autopost.domain.statuses import PublicationStatus
from autopost.domain.task_errors import TaskError
from autopost.infra.settings import get_settings
from autopost.publish_worker.task import STALE_TASK_TOKEN_ERRORS
from autopost.storage.publications import PublicationRepository


@pytest.fixture
def ready(executing):
    executing.ready_clip()
    executing.connect("user-1", *Platform)
    return executing


def publish(harness, platform="vk", **extra):
    response = harness.api(
        "POST", "/clips/clip-1/publications", body={"platforms": [platform], "title": "Клип", **extra}
    )
    assert response.status == 201, response.body
    return response.body["items"][0]


def next_task(harness, platform="vk", timeout=15.0):
    """The next upload message on the platform's queue, taken off it."""
    queue = harness.stack.ref(f"{platform.capitalize()}UploadQueue")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = harness.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for message in messages:
            harness.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            return json.loads(message["Body"])
    raise AssertionError(f"no upload task on the {platform} queue within {timeout}s")


def finished(harness, publication_id, timeout=60.0):  # moto's threads crawl on a busy 2-core run
    arn = next(e["executionArn"] for e in harness.executions() if e["name"] == publication_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = harness.sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described, harness.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        time.sleep(0.2)
    raise AssertionError("execution still running")


def status_of(harness, publication_id):
    return harness.api("GET", f"/publications/{publication_id}").body


def fail_task(harness, task, error, message):
    """What the worker does on a failed attempt: record the message, then fail the task."""
    PublicationRepository(get_settings()).record_attempt_error(task["publicationId"], error.value, message)
    harness.sfn.send_task_failure(taskToken=task["taskToken"], error=error.value, cause=message)


def died_at_work(task, lasting=0.0):
    """A worker took the message and began the attempt, holding the upload for `lasting`
    seconds (its Lambda's deadline), then never answered. By default its hold has lapsed
    already: a hold still running when the task times out is rightly waited for (on a loaded
    machine a 1 s hold taken late was still running at the 4 s timeout)."""
    until = datetime.now(UTC) + timedelta(seconds=lasting)
    held = PublicationRepository(get_settings()).take_attempt(
        task["publicationId"], f"worker-{task['dispatch']}", until, task["retry"], task["dispatch"]
    )
    assert held is None


def answer_if_still_waited_for(harness, task):
    """Success, as the worker answers: if this message's task timed out too meanwhile (a
    loaded machine), the state machine finds the publication settled by itself."""
    from botocore.exceptions import ClientError

    try:
        harness.sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in STALE_TASK_TOKEN_ERRORS:
            raise


def entered(events):
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def mark_published(publication_id):
    PublicationRepository(get_settings()).transition(
        publication_id, PublicationStatus.PUBLISHING, PublicationStatus.PUBLISHED, post_id="1_2"
    )


def test_publish_now_hands_the_upload_to_the_platform_queue(ready):
    publication = publish(ready, "telegram")
    task = next_task(ready, "telegram")
    assert task["publicationId"] == publication["id"]
    assert task["platform"] == "telegram"
    assert task["retry"] == 0

    mark_published(publication["id"])
    ready.sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"postId": "1_2"}))
    described, events = finished(ready, publication["id"])
    assert described["status"] == "SUCCEEDED"
    assert status_of(ready, publication["id"])["status"] == "published"
    entered = [e for e in events if e["type"].endswith("StateEntered")]
    assert len(entered) == 6


def test_scheduled_waits_then_marks_publishing(ready):
    at = datetime.now(UTC) + timedelta(seconds=6)
    publication = publish(ready, scheduledAt=at.isoformat())
    # As written by the request (a second read could come after the wait on a loaded machine:
    # moto ends a Wait up to 2 s early, so only about 4 s separate the two).
    assert publication["status"] == "scheduled"
    task = next_task(ready, timeout=20)
    # moto truncates both the timestamp and the remaining wait to whole seconds (up to 2 s
    # early); AWS waits for the timestamp.
    assert datetime.now(UTC) >= at - timedelta(seconds=2)
    assert status_of(ready, publication["id"])["status"] == "publishing"
    mark_published(publication["id"])
    ready.sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    assert finished(ready, publication["id"])[0]["status"] == "SUCCEEDED"


def test_cancelled_during_the_wait_ends_quietly_even_if_not_stopped(ready):
    # Far enough ahead that a loaded machine still cancels during the wait.
    at = datetime.now(UTC) + timedelta(seconds=12)
    publication = publish(ready, scheduledAt=at.isoformat())
    # Cancel in storage only, as if StopExecution had been lost: the condition still holds.
    PublicationRepository(get_settings()).transition(
        publication["id"], PublicationStatus.SCHEDULED, PublicationStatus.CANCELLED
    )
    described, events = finished(ready, publication["id"])
    assert described["status"] == "SUCCEEDED"
    assert any(e.get("stateExitedEventDetails", {}).get("name") == "NoLongerScheduled" for e in events)
    assert status_of(ready, publication["id"])["status"] == "cancelled"


def test_platform_unavailable_is_retried_three_times_then_failed_with_the_message(ready):
    publication = publish(ready)
    retries = []
    for _ in range(4):
        task = next_task(ready)
        retries.append(task["retry"])
        fail_task(ready, task, TaskError.PLATFORM_UNAVAILABLE, "VK временно недоступен")
    described, events = finished(ready, publication["id"])
    assert retries == [0, 1, 2, 3]
    assert described["status"] == "SUCCEEDED"
    failed = status_of(ready, publication["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "PlatformUnavailable", "message": "VK временно недоступен"}
    assert len([e for e in events if e["type"].endswith("StateEntered")]) == 26


def processing(harness, task, seconds_so_far=0):
    """What the worker answers while the platform still processes the clip."""
    output = {"processing": True, "checkAfterSeconds": 1, "processingSeconds": seconds_so_far}
    harness.sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps(output))


def test_a_platform_still_processing_is_waited_for_and_asked_again(ready):
    publication = publish(ready, "dzen")
    processing(ready, next_task(ready, "dzen"))
    again = next_task(ready, "dzen")
    assert again["retry"] == 0  # waiting is not a retry
    mark_published(publication["id"])
    ready.sfn.send_task_success(taskToken=again["taskToken"], output="{}")
    _described, events = finished(ready, publication["id"])
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    assert entered == [
        "IsScheduled",
        "ChoosePlatformQueue",
        "DispatchDzen",
        "UploadDzen",
        "AfterUpload",
        "WaitProcessingDzen",
        "DispatchDzen",  # each message sent is told apart (a timeout asks which one a worker took)
        "UploadDzen",
        "AfterUpload",
        "Published",
    ]


def test_processing_past_the_cap_fails_with_its_own_error(ready):
    publication = publish(ready)
    cap = get_settings().processing_timeout_seconds
    processing(ready, next_task(ready), seconds_so_far=cap + 1)
    finished(ready, publication["id"])
    failed = status_of(ready, publication["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": "ProcessingTimedOut",
        "message": "Платформа слишком долго обрабатывает видео: публикация не завершена",
    }


@pytest.mark.parametrize(
    "error",
    [TaskError.TOKEN_EXPIRED, TaskError.CLIP_MISSING, TaskError.REJECTED, TaskError.CONNECTION_MISSING],
)
def test_final_errors_fail_at_once_without_retry(ready, error):
    publication = publish(ready)
    task = next_task(ready)
    fail_task(ready, task, error, "Сообщение для пользователя")
    finished(ready, publication["id"])
    failed = status_of(ready, publication["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": error.value, "message": "Сообщение для пользователя"}


def test_a_long_rate_limit_is_waited_out_by_the_state_machine_without_counting(ready):
    publication = publish(ready)
    task = next_task(ready)
    until = datetime.now(UTC) + timedelta(seconds=3)
    PublicationRepository(get_settings()).record_wait(task["publicationId"], until)
    ready.sfn.send_task_failure(taskToken=task["taskToken"], error=TaskError.RATE_LIMITED.value)
    again = next_task(ready, timeout=20)
    assert datetime.now(UTC) >= until - timedelta(seconds=2)  # moto's waits: see above
    assert again["retry"] == 0
    mark_published(publication["id"])
    ready.sfn.send_task_success(taskToken=again["taskToken"], output="{}")
    assert finished(ready, publication["id"])[0]["status"] == "SUCCEEDED"


def test_an_incomplete_resumable_upload_continues_at_once_without_counting(ready):
    publication = publish(ready, "rutube")
    task = next_task(ready, "rutube")
    ready.sfn.send_task_failure(taskToken=task["taskToken"], error=TaskError.UPLOAD_INCOMPLETE.value)
    again = next_task(ready, "rutube")
    assert again["retry"] == 0
    mark_published(publication["id"])
    ready.sfn.send_task_success(taskToken=again["taskToken"], output="{}")
    assert finished(ready, publication["id"])[0]["status"] == "SUCCEEDED"


@pytest.mark.task_timeout(4)
def test_a_silent_worker_times_out_and_counts_as_unavailable(ready):
    publication = publish(ready)
    first = next_task(ready)
    assert first["retry"] == 0
    died_at_work(first)  # a worker took it, and never answers
    # after the task timeout the state machine retries.
    second = next_task(ready, timeout=20)
    assert second["retry"] == 1
    fail_task(ready, second, TaskError.REJECTED, "Видео отклонено платформой")
    finished(ready, publication["id"])
    failed = status_of(ready, publication["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "Rejected", "message": "Видео отклонено платформой"}


@pytest.mark.task_timeout(4)
def test_timeouts_to_the_end_fail_with_the_state_machines_own_message(ready):
    """Every attempt is taken by a worker that never answers. Every message is taken, not a
    fixed four: on a loaded machine the test may take one after its task timed out, and the
    state machine then rightly sends it again as still queued, counting no retry."""
    publication = publish(ready)
    deadline = time.monotonic() + 150
    while status_of(ready, publication["id"])["status"] == "publishing" and time.monotonic() < deadline:
        try:
            task = next_task(ready, timeout=3)
        except AssertionError:
            continue  # between attempts: the retry delay
        died_at_work(task)  # taken by a worker that never answered
    finished(ready, publication["id"], timeout=40)
    failed = status_of(ready, publication["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "PlatformUnavailable", "message": "Платформа не ответила вовремя"}


@pytest.mark.task_timeout(4)
def test_a_message_still_in_our_queue_is_sent_again_and_not_blamed_on_the_platform(ready):
    """No worker took the message within the task timeout (a backlog in our queue): the
    state machine sends it again, counts no retry, and never says the platform was slow."""
    publication = publish(ready)
    first = next_task(ready)  # off the queue, but no worker started it
    second = next_task(ready, timeout=20)
    assert (second["retry"], second["publicationId"]) == (0, publication["id"])
    assert second["dispatch"] != first["dispatch"]

    died_at_work(second, lasting=0)  # the worker takes it now...
    mark_published(publication["id"])  # ...and posts
    answer_if_still_waited_for(ready, second)
    described, events = finished(ready, publication["id"])
    assert described["status"] == "SUCCEEDED"
    states = entered(events)
    assert "StillWaiting" in states
    assert "TimeoutAsUnavailable" not in states and "NextRetry" not in states
    assert status_of(ready, publication["id"])["status"] == "published"


@pytest.mark.task_timeout(4)
def test_an_attempt_still_uploading_at_the_timeout_is_waited_for_then_its_post_kept(ready):
    """The worker is mid-upload when the task times out (its hold runs past the timeout):
    the state machine sends the message again without counting a retry; the slow attempt
    posts, and the new message finds the publication published."""
    publication = publish(ready)
    first = next_task(ready)
    died_at_work(first, lasting=30)  # still at work, for a while
    second = next_task(ready, timeout=20)
    assert second["retry"] == 0

    mark_published(publication["id"])  # the slow attempt's post is out
    answer_if_still_waited_for(ready, second)
    described, events = finished(ready, publication["id"])
    assert described["status"] == "SUCCEEDED"
    states = entered(events)
    assert "StillWaiting" in states and "TimeoutAsUnavailable" not in states
    assert status_of(ready, publication["id"])["status"] == "published"


@pytest.mark.task_timeout(3)
def test_a_post_that_came_while_the_task_timed_out_ends_it_published(ready):
    """The worker posted and recorded the publication published just after the task's
    timeout, its answer lost: the state machine sees it settled and ends without a retry."""
    publication = publish(ready)
    first = next_task(ready)
    died_at_work(first, lasting=0)
    mark_published(publication["id"])
    described, events = finished(ready, publication["id"], timeout=30)
    assert described["status"] == "SUCCEEDED"
    assert "SettledMeanwhile" in entered(events)
    assert status_of(ready, publication["id"])["status"] == "published"


@pytest.mark.task_timeout(3)
def test_a_queue_that_never_reaches_the_message_fails_it_as_ours_not_the_platforms(ready, monkeypatch):
    from autopost.infra import runtime

    monkeypatch.setenv("QUEUE_WAITS", "2")
    runtime.reset()
    publication = publish(ready)
    for _ in range(3):  # the first message and two more; no worker ever starts one
        next_task(ready, timeout=20)
    described, events = finished(ready, publication["id"], timeout=40)
    assert described["status"] == "SUCCEEDED"
    assert entered(events).count("StillWaiting") == 3
    failed = status_of(ready, publication["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "QueueBacklog"
    assert failed["error"]["message"].startswith("Сервис перегружен")
