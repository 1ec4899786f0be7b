"""Statistics sync against moto and the emulators; the connection cache."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from autopost.connecting.token_refresh import TokenRefresher
from autopost.domain.clock import to_iso
from autopost.domain.models import ConnectionStatus
from autopost.domain.platforms import Platform
from autopost.domain.stats_schedule import stats_schedule
from autopost.infra.secrets import token_cipher
from autopost.infra.settings import get_settings
from autopost.providers import provider_for
from autopost.stats_sync.sync import StatsSync, stats_sync_from_settings
from autopost.storage.connections import ConnectionRepository
from autopost.storage.tables import records
from functions.stats_sync import handler as stats_handler
from tests.support.lambda_context import LambdaContext
from tests.support.queues import drain


def published(user, platform, post_id, age=timedelta(0), published_at=None):
    """A publication as the worker leaves it: published, in the stats index, due now."""
    record = records(get_settings()).publication
    publication_id = str(uuid.uuid4())
    created = published_at or datetime.now(UTC) - age
    fields = {
        "user_id": user,
        "clip_id": f"clip-{publication_id[:8]}",
        "clip_key": f"clips/{user}/clip.mp4",
        "platform": platform.value,
        "status": "published",
        "title": "t",
        "created_at": to_iso(created),
        "updated_at": to_iso(created),
        "execution_name": publication_id,
        "post_id": post_id,
        "published_at": to_iso(created),
    }
    schedule = stats_schedule(publication_id, platform)
    if schedule:
        schedule["stats_due_at"] = to_iso(created)
    record(publication_id, **fields, **schedule).save()
    return publication_id


@pytest.fixture
def stats(harness, platforms):
    return harness


def run(page_size=1000) -> StatsSync:
    return stats_sync_from_settings(get_settings(), page_size=page_size)


def test_vk_stats_are_fetched_200_a_call_and_shown_by_the_api(stats, platforms):
    stats.connect_platform(platforms, Platform.VK)
    posts = platforms.vk.add_videos(1001, 450, views=120, likes=7, comments=3, reposts=2)
    ids = [published("user-1", Platform.VK, post) for post in posts]

    report = run().run(None, lambda: 300)

    assert report.synced == 450
    assert [c["videos"] for c in platforms.vk.calls_to("video.get")] == [200, 200, 50]
    shown = stats.api("GET", f"/publications/{ids[0]}").body["stats"]
    assert (shown["views"], shown["likes"], shown["comments"], shown["reposts"]) == (120, 7, 3, 2)
    assert shown["syncedAt"] is not None
    # Synced ones are not due again until the next interval.
    assert run().run(None, lambda: 300).synced == 0


def test_telegram_is_skipped_entirely(stats, platforms):
    stats.connect_platform(platforms, Platform.TELEGRAM)
    publication_id = published("user-1", Platform.TELEGRAM, "-100:5")
    assert records(get_settings()).publication.get(publication_id).stats_shard is None
    report = run().run(None, lambda: 300)
    assert report.synced == 0
    assert platforms.telegram.calls == []
    assert stats.api("GET", f"/publications/{publication_id}").body["stats"] == {
        "available": False,
        "message": "Статистика недоступна",
        "views": None,
        "likes": None,
        "comments": None,
        "reposts": None,
        "syncedAt": None,
    }


def test_a_run_out_of_time_continues_where_it_left_off(stats, platforms):
    stats.connect_platform(platforms, Platform.VK)
    ids = [published("user-1", Platform.VK, post) for post in platforms.vk.add_videos(1001, 60)]
    budget = iter([300.0, 300.0, 10.0])  # the third check finds the time nearly up

    first = run(page_size=2).run(None, lambda: next(budget, 10.0))

    assert first.cursor is not None
    assert first.synced < 60
    second = run(page_size=2).run(first.cursor, lambda: 300)
    assert second.cursor is None
    assert first.synced + second.synced == 60
    synced = [records(get_settings()).publication.get(i).stats_synced_at for i in ids]
    assert all(synced)


def test_the_handler_hands_its_cursor_to_the_continuation_queue(stats, platforms):
    stats.connect_platform(platforms, Platform.VK)
    ids = [published("user-1", Platform.VK, post) for post in platforms.vk.add_videos(1001, 5)]
    hurried = LambdaContext(remaining_millis=30_000)  # under the margin at once

    answer = stats_handler.lambda_handler({"source": "aws.scheduler"}, hurried)
    assert answer["continues"] is True
    queue = stats.stack.ref("StatsContinueQueue")
    drain(
        stats.sqs,
        queue,
        stats.stack.attribute("StatsContinueQueue", "Arn"),
        stats_handler.lambda_handler,
        batch_size=1,
    )

    assert all(records(get_settings()).publication.get(i).stats_synced_at for i in ids)


def test_a_failing_connection_does_not_stop_the_others(stats, platforms):
    good = stats.connect_platform(platforms, Platform.VK, user="user-good")
    bad = stats.connect_platform(platforms, Platform.VK, user="user-bad")
    platforms.vk.expire_token(bad.access_token.get_secret_value())
    platforms.vk.refresh_tokens.pop(bad.refresh_token.get_secret_value())  # the refresh will fail
    good_ids = [published("user-good", Platform.VK, p) for p in platforms.vk.add_videos(1001, 3, views=9)]
    bad_ids = [published("user-bad", Platform.VK, p) for p in platforms.vk.add_videos(1001, 2)]
    assert good.access_token != bad.access_token

    report = run().run(None, lambda: 300)

    assert report.synced == 3
    assert report.deferred == 2
    table = records(get_settings()).publication
    assert all(table.get(i).stats.as_dict()["views"] == 9 for i in good_ids)
    for publication_id in bad_ids:
        due = datetime.fromisoformat(table.get(publication_id).stats_due_at)
        assert due > datetime.now(UTC) + timedelta(minutes=50)
    connection = ConnectionRepository(get_settings(), token_cipher()).get("user-bad", Platform.VK)
    assert connection.status is ConnectionStatus.EXPIRED


def test_a_rate_limit_answer_stops_the_platform_for_this_run(stats, platforms):
    stats.connect_platform(platforms, Platform.VK)
    ids = [published("user-1", Platform.VK, p) for p in platforms.vk.add_videos(1001, 3)]
    platforms.vk.inject("video.get", "rate_limit")
    report = run().run(None, lambda: 300)
    assert report.rate_limited == ["vk"]
    assert report.synced == 0
    assert len(platforms.vk.calls_to("video.get")) == 1  # it did not keep asking
    assert run().run(None, lambda: 300).synced == 3  # the next run syncs them
    assert all(records(get_settings()).publication.get(i).stats_synced_at for i in ids)


def test_the_series_grows_hourly_then_six_hourly_then_daily_then_weekly(stats, platforms, monkeypatch):
    """A fast clock runs the hourly sync over 45 days (every run where the grid could
    change; runs between them are checked to add nothing): one point per grid time, and
    never more platform calls than points."""
    stats.connect_platform(platforms, Platform.VK)
    first, second = platforms.vk.add_videos(1001, 2, views=10)
    # The grid is the point here, not VK's 3 requests a second in real time (which stops a
    # run: test_a_rate_limit_answer_stops_the_platform_for_this_run).
    monkeypatch.setattr(platforms.vk, "enforce_rate_limit", False)
    start = datetime.now(UTC).replace(microsecond=0)
    ids = [published("user-1", Platform.VK, post, published_at=start) for post in (first, second)]
    hour = timedelta(hours=1)
    runs = (
        [start + n * hour for n in range(31)]
        + [start + n * hour for n in range(33, 8 * 24, 3)]
        + [start + n * hour for n in range(8 * 24, 31 * 24, 12)]
        + [start + n * 24 * hour for n in range(31, 46)]
    )
    clock = {"now": start}
    sync = stats_sync_from_settings(get_settings(), now=lambda: clock["now"])
    calls = 0
    for moment in runs:
        clock["now"] = moment
        report = sync.run(None, lambda: 300)
        while report.rate_limited:  # VK's 3 requests a second, in real time: the clock waits
            time.sleep(0.4)
            report = sync.run(None, lambda: 300)
        calls += report.platform_calls

    expected = (
        [start + n * hour for n in range(24)]
        + [start + n * hour for n in range(24, 7 * 24, 6)]
        + [start + n * 24 * hour for n in range(7, 30)]
        + [start + n * 24 * hour for n in (30, 37, 44)]
    )
    for publication_id in ids:
        series = stats.api("GET", f"/publications/{publication_id}/stats").body
        assert series["available"] is True
        assert [datetime.fromisoformat(p["at"]) for p in series["items"]] == expected
        assert all(p["views"] == 10 for p in series["items"])
    # Both posts of the connection go in one call each time: calls are per point, not per post.
    assert calls == len(expected) == 24 + 24 + 23 + 3
    assert len(platforms.vk.calls_to("video.get")) == len(expected)


def test_telegram_has_no_series_and_another_users_series_is_not_found(stats, platforms):
    telegram_id = published("user-1", Platform.TELEGRAM, "55")
    assert stats.api("GET", f"/publications/{telegram_id}/stats").body == {
        "available": False,
        "message": "Статистика недоступна",
        "items": [],
    }
    other = published("user-2", Platform.VK, "1001_1")
    answer = stats.api("GET", f"/publications/{other}/stats")
    assert answer.status == 404
    assert answer.body["error"]["code"] == "PUBLICATION_NOT_FOUND"


def test_rutube_and_dzen_stats(stats, platforms):
    stats.connect_platform(platforms, Platform.RUTUBE)
    stats.connect_platform(platforms, Platform.DZEN)
    settings = get_settings()
    rutube_id = published("user-1", Platform.RUTUBE, platforms.rutube.add_video(hits=31))
    dzen_id = published(
        "user-1", Platform.DZEN, platforms.dzen.add_published(views=12, likes=4, comments=2, reposts=1)
    )

    run().run(None, lambda: 300)

    assert records(settings).publication.get(rutube_id).stats.as_dict() == {"views": 31}
    assert records(settings).publication.get(dzen_id).stats.as_dict() == {
        "views": 12,
        "likes": 4,
        "comments": 2,
        "reposts": 1,
    }
    assert len(platforms.dzen.calls_to("stats2")) == 1


class TestConnectionCache:
    def test_a_cached_connection_is_served_without_decrypting_again(self, stats, platforms):
        stats.connect_platform(platforms, Platform.VK)
        repository = ConnectionRepository(get_settings(), token_cipher())
        first = repository.cached_credentials("user-1", Platform.VK)
        second = repository.cached_credentials("user-1", Platform.VK)
        assert second[1] is first[1]

    def test_a_disconnect_is_never_served_from_the_cache(self, stats, platforms):
        stats.connect_platform(platforms, Platform.VK)
        repository = ConnectionRepository(get_settings(), token_cipher())
        assert repository.cached_credentials("user-1", Platform.VK) is not None
        assert stats.api("DELETE", "/connections/vk").status == 200
        assert repository.cached_credentials("user-1", Platform.VK) is None

    def test_a_refresh_is_never_served_stale(self, stats, platforms):
        stats.connect_platform(platforms, Platform.VK)
        settings = get_settings()
        repository = ConnectionRepository(settings, token_cipher())
        connection, before = repository.cached_credentials("user-1", Platform.VK)
        TokenRefresher(settings, repository).refresh(provider_for(Platform.VK, settings), connection, before)
        _, after = repository.cached_credentials("user-1", Platform.VK)
        assert after.access_token.get_secret_value() != before.access_token.get_secret_value()

    def test_another_environments_write_is_seen_through_the_version(self, stats, platforms):
        stats.connect_platform(platforms, Platform.VK)
        settings = get_settings()
        repository = ConnectionRepository(settings, token_cipher())
        _, cached = repository.cached_credentials("user-1", Platform.VK)
        # Another Lambda environment reconnects: this one's cache is not told.
        other = ConnectionRepository(settings, token_cipher())
        from autopost.domain.models import Account, Credentials

        other.connect(
            "user-1",
            Platform.VK,
            Account("1001", "VK"),
            Credentials(SecretStr("new-access-token"), account_id="1001"),
        )
        from autopost.storage import connections as module

        module._cache[(settings.connections_table, "user-1", "vk")] = module._Cached(
            repository.get("user-1", Platform.VK).model_copy(update={"version": 1}), cached, time.monotonic()
        )
        _, seen = repository.cached_credentials("user-1", Platform.VK)
        assert seen.access_token.get_secret_value() == "new-access-token"

    def test_entries_expire_after_five_minutes(self, stats, platforms):
        stats.connect_platform(platforms, Platform.VK)
        clock = [1000.0]
        repository = ConnectionRepository(get_settings(), token_cipher(), clock=lambda: clock[0])
        first = repository.cached_credentials("user-1", Platform.VK)
        clock[0] += 301
        assert repository.cached_credentials("user-1", Platform.VK)[1] is not first[1]
