"""What one change of a publication item tells (autopost.domain.history.events_of), and the
sampling grid of its statistics (next_sample)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from autopost.domain.history import EventType, events_of, next_sample

SEEN = datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC)


def item(**changes):
    base = {
        "publication_id": "p-1",
        "user_id": "user-1",
        "clip_id": "clip-1",
        "clip_key": "clips/user-1/clip-1.mp4",
        "platform": "vk",
        "status": "publishing",
        "title": "Закат",
        "created_at": "2026-11-30T11:00:00.000Z",
        "updated_at": "2026-11-30T12:00:00.000Z",
        "attempt": 0,
        "execution_name": "p-1",
    }
    return {**base, **changes}


def kinds(old, new):
    return [e.type for e in events_of(old, new, "100", SEEN)]


def test_an_insert_is_created_with_its_scheduled_time():
    (event,) = events_of(None, item(status="scheduled", scheduled_at="2026-12-01T09:00:00Z"), "7", SEEN)
    assert event.type is EventType.CREATED
    assert event.scheduled_at == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert event.at == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert event.previous_status is None


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        ("scheduled", "publishing", EventType.STARTED),
        ("failed", "publishing", EventType.RETRIED),
        ("publishing", "published", EventType.PUBLISHED),
        ("publishing", "failed", EventType.FAILED),
        ("scheduled", "cancelled", EventType.CANCELLED),
        ("failed", "published", EventType.PUBLISHED),
    ],
)
def test_a_status_change_is_one_event(before, after, kind):
    (event,) = events_of(
        item(status=before), item(status=after, updated_at="2026-11-30T12:01:00.000Z"), "9", SEEN
    )
    assert event.type is kind
    assert (event.previous_status, event.status) == (before, after)
    assert event.at == datetime(2026, 11, 30, 12, 1, tzinfo=UTC)


def test_a_late_post_adopted_after_the_failure_says_so():
    failed = item(status="failed", error_code="PlatformUnavailable")
    adopted_at = "2026-11-30T12:01:00.000Z"
    # the post is out: failed -> published, told as adopted, then published with its link
    published = item(status="published", post_url="https://vk.com/clip1_2", adopted_at=adopted_at)
    assert kinds(failed, published) == [EventType.ADOPTED, EventType.PUBLISHED]
    assert events_of(failed, published, "9", SEEN)[1].post_url == "https://vk.com/clip1_2"
    # the platform still processes: failed -> publishing under a new execution, not a retry
    going_on = item(status="publishing", attempt=1, adopted_at=adopted_at)
    assert kinds(failed, going_on) == [EventType.ADOPTED]
    # a user's retry of a publication adopted once before is a retry
    retried = item(status="publishing", attempt=2, adopted_at=adopted_at)
    assert kinds(item(status="failed", adopted_at=adopted_at), retried) == [EventType.RETRIED]


def test_progress_within_publishing():
    old = item(attempt_retry=0, attempt_errors=1, error_code="PlatformUnavailable")
    assert kinds(old, item(attempt_retry=1, attempt_errors=1, error_code="PlatformUnavailable")) == [
        EventType.RETRIED
    ]
    (failed,) = events_of(
        item(attempt_retry=1, attempt_errors=1),
        item(attempt_retry=1, attempt_errors=2, error_code="Rejected", error_message="Нет"),
        "11",
        SEEN,
    )
    assert (failed.type, failed.error_code, failed.error_message, failed.retry) == (
        EventType.ATTEMPT_FAILED,
        "Rejected",
        "Нет",
        1,
    )
    (waiting,) = events_of(item(), item(retry_not_before="2026-11-30T12:10:00Z"), "12", SEEN)
    assert waiting.wait_until == datetime(2026, 11, 30, 12, 10, tzinfo=UTC)
    assert waiting.at == SEEN  # the change has no updated_at of its own: when the stream saw it
    assert kinds(item(), item(processing_state="VK обрабатывает клип: 40%")) == [EventType.PROCESSING]


def test_changes_that_tell_nothing_make_no_event():
    assert kinds(item(), item(attempt_owner="a", attempt_until="2026-11-30T12:15:00Z")) == []
    assert (
        kinds(
            item(processing_state="40%"), item(processing_state="40%", updated_at="2026-11-30T12:03:00.000Z")
        )
        == []
    )
    # The post's first state comes with the post: publishing it, not a processing step.
    assert kinds(item(), item(post_id="1001_5", processing_state="ready")) == []
    assert kinds(item(status="published"), item(status="published", stats_due_at="z")) == []
    assert events_of(item(status="published"), None, "13", SEEN) == []


def test_a_publication_removed_before_it_started_is_told_as_cancelled():
    """The request failed after the item was written (its execution never started)."""
    (event,) = events_of(item(status="scheduled"), None, "19", SEEN)
    assert (event.type, event.previous_status, event.status, event.at) == (
        EventType.CANCELLED,
        "scheduled",
        "cancelled",
        SEEN,
    )


def test_ids_are_stable_per_change_and_unique_within_it():
    old, new = item(attempt_retry=0, attempt_errors=0), item(attempt_retry=1, attempt_errors=1)
    first = events_of(old, new, "14", SEEN)
    again = events_of(old, new, "14", SEEN)
    other = events_of(old, new, "15", SEEN)
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len({e.event_id for e in first + other}) == 4


def test_the_detail_is_camel_case_json_with_the_user_and_the_view_without():
    (event,) = events_of(item(), item(status="published", post_url="https://vk.com/clip1_2"), "16", SEEN)
    detail = event.to_detail()
    assert detail["userId"] == "user-1"
    assert (detail["type"], detail["postUrl"], detail["previousStatus"]) == (
        "publication.published",
        "https://vk.com/clip1_2",
        "publishing",
    )
    assert detail["at"] == "2026-11-30T12:00:05.000Z"
    assert "userId" not in event.view().model_dump(by_alias=True)
    assert event.detail_type == "Publication Status Changed"
    (by_hand,) = events_of(
        item(status="failed"), item(attempt=1, updated_at="2026-11-30T12:09:00.000Z"), "17", SEEN
    )
    assert (by_hand.type, by_hand.retry, by_hand.detail_type) == (
        EventType.RETRIED,
        1,
        "Publication Status Changed",
    )
    (automatic,) = events_of(item(attempt_retry=0), item(attempt_retry=1), "18", SEEN)
    assert (automatic.type, automatic.retry, automatic.detail_type) == (
        EventType.RETRIED,
        1,
        "Publication Progress",
    )


PUBLISHED_AT = datetime(2026, 11, 1, 10, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "due_in"),
    [
        (timedelta(0), timedelta(hours=1)),
        (timedelta(minutes=59), timedelta(minutes=1)),
        (timedelta(hours=23, minutes=30), timedelta(minutes=30)),
        (timedelta(hours=24), timedelta(hours=6)),
        (timedelta(days=6, hours=20), timedelta(hours=4)),
        (timedelta(days=7), timedelta(days=1)),
        (timedelta(days=29, hours=1), timedelta(hours=23)),
        (timedelta(days=30), timedelta(days=7)),
        (timedelta(days=40), timedelta(days=4)),
    ],
)
def test_the_sampling_grid_is_hourly_then_six_hourly_then_daily_then_weekly(age, due_in):
    assert next_sample(PUBLISHED_AT, PUBLISHED_AT + age) == PUBLISHED_AT + age + due_in
