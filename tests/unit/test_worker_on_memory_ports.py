"""The upload worker (autopost.publish_worker.worker) on in-memory ports: each rule of
"nothing published twice, nothing lost" in milliseconds. The same rules run against moto and
the emulators in tests/integration/test_publish_flow.py and the local stack's crash tests."""

from __future__ import annotations

from datetime import timedelta

from autopost.domain.clock import utcnow
from autopost.domain.errors import PlatformRateLimited, Rejected
from autopost.domain.statuses import PublicationStatus
from autopost.providers.base import Processing, Published
from tests.support.memory_ports import NOW, a_publication, message, stage

REMAINING = lambda: 300.0  # noqa: E731 - the Lambda's time left, as the handler passes it


publishing = a_publication


POST = Published("-1_42", "https://vk.com/clip-1_42", "ready", "clip")


def test_an_upload_is_published_recorded_and_answered_once():
    on = stage(publishing(), [POST])
    on.worker.handle(message(), REMAINING)
    published = on.publications.get("p-1")
    assert published.status is PublicationStatus.PUBLISHED and published.post_id == "-1_42"
    assert [name for name, _ in on.answers()] == ["send_task_success"]
    assert on.provider.calls == 1
    assert on.publications.holds == {}  # the attempt gave the upload back


def test_a_worker_that_died_after_the_platform_answered_is_finished_by_the_next_without_posting():
    """Crash between steps: the post id was recorded, the status was not."""
    on = stage(publishing(post_id="-1_42", post_url=POST.url, published_as="clip"), [])
    on.worker.handle(message(), REMAINING)
    assert on.publications.get("p-1").status is PublicationStatus.PUBLISHED
    assert on.provider.calls == 0
    assert [name for name, _ in on.answers()] == ["send_task_success"]


def test_a_redelivered_message_of_a_published_publication_answers_and_never_posts():
    on = stage(publishing(status=PublicationStatus.PUBLISHED, post_id="-1_42"), [])
    on.worker.handle(message(), REMAINING)
    on.worker.handle(message(), REMAINING)
    assert on.provider.calls == 0
    assert [name for name, _ in on.answers()] == ["send_task_success", "send_task_success"]


def test_a_message_for_a_publication_the_state_machine_gave_up_on_ends_quietly():
    on = stage(publishing(status=PublicationStatus.FAILED), [POST])
    on.worker.handle(message(), REMAINING)
    assert on.provider.calls == 0
    ((name, answer),) = on.answers()
    assert name == "send_task_failure" and answer["error"] == "PublicationGone"


def test_a_post_made_while_the_state_machine_gave_up_is_adopted_as_published():
    """The late post: the state machine failed the publication during the platform call."""
    on = stage(publishing(), [POST])

    def gave_up() -> None:
        on.publications.transition("p-1", PublicationStatus.PUBLISHING, PublicationStatus.FAILED)

    on.publications.during_publish = gave_up
    on.worker.handle(message(), REMAINING)
    adopted = on.publications.get("p-1")
    assert adopted.status is PublicationStatus.PUBLISHED
    assert adopted.adopted_at is not None and adopted.post_id == "-1_42"
    assert [name for name, _ in on.answers()] == ["send_task_success"]


def test_a_clip_still_processing_when_the_state_machine_gave_up_goes_on_under_a_new_execution():
    on = stage(publishing(), [Processing("VK обрабатывает клип", 30)])
    on.publications.during_publish = lambda: on.publications.transition(
        "p-1", PublicationStatus.PUBLISHING, PublicationStatus.FAILED
    )
    on.worker.handle(message(), REMAINING)
    (started,) = on.orchestrator.started
    assert started.execution_name == "p-1-adopt-1" and started.status is PublicationStatus.PUBLISHING
    ((name, answer),) = on.answers()
    assert name == "send_task_failure" and answer["error"] == "PublicationGone"


def test_a_post_made_while_the_user_cancelled_leaves_the_cancellation_alone():
    on = stage(publishing(), [POST])
    on.publications.during_publish = lambda: on.publications._change(
        "p-1", status=PublicationStatus.CANCELLED
    )
    on.worker.handle(message(), REMAINING)
    assert on.publications.get("p-1").status is PublicationStatus.CANCELLED
    assert on.answers() == []  # the execution was stopped with the cancel: nobody waits


def test_a_refusal_records_the_platforms_code_and_message_then_fails_the_task():
    on = stage(publishing(), [Rejected("Бот не может публиковать", code="TELEGRAM_NO_POST_RIGHTS")])
    on.worker.handle(message(), REMAINING)
    failed = on.publications.get("p-1")
    assert (failed.error_code, failed.error_message) == (
        "TELEGRAM_NO_POST_RIGHTS",
        "Бот не может публиковать",
    )
    ((name, answer),) = on.answers()
    assert (name, answer["error"], answer["cause"]) == (
        "send_task_failure",
        "Rejected",
        "Бот не может публиковать",
    )


def test_an_upload_another_attempt_holds_is_asked_again_after_it_and_not_started():
    on = stage(publishing(), [POST])
    on.publications.holds["p-1"] = ("other", utcnow() + timedelta(seconds=40))
    on.worker.handle(message(), REMAINING)
    assert on.provider.calls == 0 and on.answers() == []
    (sent,) = on.aws.named("send_message")
    assert sent["QueueUrl"] == "vk-queue" and 40 <= sent["DelaySeconds"] <= 42


def test_a_message_that_woke_too_early_is_delayed_and_a_moment_early_is_slept_through():
    early = stage(publishing(scheduled_at=NOW + timedelta(minutes=10)), [POST], now=NOW.timestamp())
    early.worker.handle(message(), REMAINING)
    assert early.provider.calls == 0
    assert early.aws.named("send_message")[0]["DelaySeconds"] == 600

    almost = stage(publishing(scheduled_at=NOW + timedelta(seconds=2)), [POST], now=NOW.timestamp())
    almost.worker.handle(message(), REMAINING)
    assert almost.slept == [2.0] and almost.provider.calls == 1


def test_a_long_rate_limit_is_recorded_and_handed_to_the_state_machine_a_short_one_delays_the_message():
    long_wait = stage(publishing(), [PlatformRateLimited(3600)], now=NOW.timestamp())
    long_wait.worker.handle(message(), REMAINING)
    assert long_wait.publications.get("p-1").retry_not_before == NOW + timedelta(hours=1)
    ((_, answer),) = long_wait.answers()
    assert answer["error"] == "RateLimited"
    assert long_wait.publications.get("p-1").attempt_errors is None  # not a failure

    short_wait = stage(publishing(), [PlatformRateLimited(12)], now=NOW.timestamp())
    short_wait.worker.handle(message(), REMAINING)
    assert short_wait.answers() == []
    assert short_wait.aws.named("send_message")[0]["DelaySeconds"] == 12
