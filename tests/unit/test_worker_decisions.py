"""The upload worker's rules as plain functions (autopost.publish_worker.decisions)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from autopost.domain.errors import (
    PlatformRateLimited,
    PlatformUnavailable,
    Rejected,
    TokenExpired,
    UploadIncomplete,
)
from autopost.domain.task_errors import TaskError, TaskFailure
from autopost.publish_worker import decisions as rules
from tests.support.memory_ports import NOW, a_publication

publication = a_publication


@pytest.mark.parametrize("status", ["scheduled", "failed", "cancelled"])
def test_a_publication_not_publishing_is_gone(status):
    assert isinstance(rules.next_step(publication(status=status)), rules.Gone)
    assert isinstance(rules.next_step(None), rules.Gone)


def test_a_redelivered_message_of_a_published_publication_answers_without_posting():
    done = publication(status="published", post_id="42")
    assert rules.next_step(done) == rules.AlreadyPublished(done)


def test_a_post_an_earlier_attempt_recorded_is_finished_not_posted_again():
    """The worker died after the platform answered: its post id is on the publication."""
    step = rules.next_step(
        publication(post_id="-1_42", post_url="https://vk.com/clip-1_42", published_as="clip")
    )
    assert isinstance(step, rules.FinishEarlierPost)
    assert step.published.post_id == "-1_42" and step.published.published_as == "clip"


def test_a_publishing_publication_without_a_post_is_uploaded():
    assert isinstance(rules.next_step(publication()), rules.Upload)


@pytest.mark.parametrize(
    ("seconds_left", "expected"),
    [
        (-1, None),
        (0, None),
        (3, rules.Sleep(3)),
        (5, rules.Sleep(5)),
        (6, rules.Delay(6)),
        (100.2, rules.Delay(101)),
        (3600, rules.Delay(900)),
    ],
)
def test_nothing_is_posted_before_its_time(seconds_left, expected):
    scheduled = publication(scheduled_at=NOW + timedelta(seconds=seconds_left))
    assert rules.too_early(scheduled, NOW.timestamp()) == expected
    assert rules.too_early(publication(), NOW.timestamp()) is None


@pytest.mark.parametrize(
    ("held_for", "delay"),
    [(timedelta(seconds=-5), 1), (timedelta(seconds=30), 31), (timedelta(hours=1), 900)],
)
def test_an_upload_another_attempt_holds_is_asked_again_after_its_deadline(held_for, delay):
    assert rules.held_elsewhere(NOW + held_for, NOW) == rules.Delay(delay)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(0.2, rules.Delay(1)), (59.5, rules.Delay(60)), (60, rules.Delay(60)), (61, rules.HandOver())],
)
def test_a_short_rate_limit_delays_the_message_a_long_one_goes_to_the_state_machine(retry_after, expected):
    assert rules.rate_limit_wait(PlatformRateLimited(retry_after)) == expected


@pytest.mark.parametrize(
    ("failed", "expected"),
    [
        (
            UploadIncomplete({"offset": 5}),
            rules.Failure(TaskError.UPLOAD_INCOMPLETE, "Загрузка продолжится", record=False),
        ),
        (
            TaskFailure(TaskError.CLIP_MISSING, "Файл клипа не найден"),
            rules.Failure(TaskError.CLIP_MISSING, "Файл клипа не найден"),
        ),
        (
            PlatformUnavailable(),
            rules.Failure(TaskError.PLATFORM_UNAVAILABLE, "Платформа недоступна, попробуйте позже"),
        ),
        (TokenExpired(), rules.Failure(TaskError.TOKEN_EXPIRED, "Токен истёк, переподключите платформу")),
        (
            Rejected("Бот не может публиковать", code="TELEGRAM_NO_POST_RIGHTS"),
            rules.Failure(TaskError.REJECTED, "Бот не может публиковать", code="TELEGRAM_NO_POST_RIGHTS"),
        ),
    ],
)
def test_every_failure_has_one_answer(failed, expected):
    assert rules.failure_of(failed) == expected


@pytest.mark.parametrize(("suggested", "asked"), [(0.5, 10), (10.1, 11), (42, 42), (3600, 300)])
def test_a_clip_still_processing_is_asked_about_within_the_bounds(suggested, asked):
    assert rules.check_after(suggested, (10, 300)) == asked


def test_a_post_made_after_the_state_machine_gave_up_is_adopted_and_otherwise_left():
    given_up = publication(status="failed")
    assert rules.after_late_post(given_up) == rules.AdoptAsPublished(given_up)
    done = publication(status="published", post_id="1")
    assert rules.after_late_post(done) == rules.AnswerPublished(done)
    assert isinstance(rules.after_late_post(publication(status="cancelled")), rules.Leave)
    assert isinstance(rules.after_late_post(None), rules.Leave)
