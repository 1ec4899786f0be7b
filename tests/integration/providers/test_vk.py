import hashlib
import time

import pytest
from pydantic import SecretStr

from autopost.errors import PlatformRateLimited, PlatformUnavailable, Rejected, StatsUnavailable, TokenExpired
from autopost.providers.base import Credentials, PostDraft, PostStats
from autopost.providers.oauth import CodeExchange, pkce_pair
from autopost.providers.vk import VkProvider
from tests.support.platforms import bytes_clip

DATA = bytes(range(256)) * 8000  # 2 MB


@pytest.fixture
def vk(settings, platforms):
    access, refresh = platforms.vk.issue_token()
    credentials = Credentials(
        SecretStr(access), SecretStr(refresh), account_id="1001", extra={"device_id": "dev"}
    )
    return VkProvider(settings), credentials, platforms.vk


def test_upload_creates_one_clip_with_the_whole_file(vk, checkpoints):
    provider, credentials, emulator = vk
    result = provider.upload(
        credentials, bytes_clip(DATA), PostDraft("Закат", "описание"), None, checkpoints.append
    )

    (video,) = emulator.uploaded_videos()
    assert video.is_short
    assert (video.title, video.description) == ("Закат", "описание")
    assert video.size == len(DATA)
    assert video.sha256 == hashlib.sha256(DATA).hexdigest()
    assert result.post_id == f"1001_{video.video_id}"
    assert result.url == f"https://vk.com/clip1001_{video.video_id}"
    # The video id was recorded before the bytes were sent.
    assert checkpoints == [
        {"owner_id": 1001, "video_id": video.video_id, "upload_url": checkpoints[0]["upload_url"]}
    ]
    assert emulator.calls_to("video.save")[0]["version"] == "5.199"


def test_a_retry_after_the_upload_finished_reuses_the_video(vk, checkpoints):
    provider, credentials, emulator = vk
    provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    again = provider.upload(
        credentials, bytes_clip(DATA), PostDraft("t"), checkpoints[-1], checkpoints.append
    )
    assert len(emulator.calls_to("video.save")) == 1
    assert len(emulator.uploaded_videos()) == 1
    assert again.post_id == f"1001_{checkpoints[-1]['video_id']}"


def test_a_retry_after_a_broken_upload_finishes_the_same_video(vk, checkpoints):
    provider, credentials, emulator = vk
    emulator.inject("upload/video", "cut", after_bytes=500_000)
    with pytest.raises(PlatformUnavailable):
        provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    assert emulator.uploaded_videos() == []
    provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), checkpoints[-1], checkpoints.append)
    assert len(emulator.calls_to("video.save")) == 1
    (video,) = emulator.uploaded_videos()
    assert video.video_id == checkpoints[0]["video_id"]


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("token_expired", TokenExpired),
        ("rate_limit", PlatformRateLimited),
        ("flood", PlatformRateLimited),
        ("internal", PlatformUnavailable),
        ("http_500", PlatformUnavailable),
    ],
)
def test_api_errors_map_onto_the_platform_error_set(vk, checkpoints, kind, error):
    provider, credentials, emulator = vk
    emulator.inject("video.save", kind)
    with pytest.raises(error) as caught:
        provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    assert caught.value.message  # in the user's words
    assert checkpoints == []


def test_rate_limit_answers_say_how_long_to_wait(vk):
    provider, credentials, emulator = vk
    emulator.inject("video.get", "rate_limit")
    with pytest.raises(PlatformRateLimited) as caught:
        provider.fetch_stats(credentials, ["1001_1"])
    assert caught.value.retry_after == 1.0


def test_vk_enforces_three_requests_a_second_per_token(vk):
    provider, credentials, _ = vk
    for _ in range(3):
        provider.fetch_stats(credentials, ["1001_1"])
    with pytest.raises(PlatformRateLimited):
        provider.fetch_stats(credentials, ["1001_1"])


def test_a_dead_token_is_token_expired(settings, platforms):
    provider = VkProvider(settings)
    with pytest.raises(TokenExpired):
        provider.fetch_stats(Credentials(SecretStr("nope")), ["1_1"])


def test_the_upload_server_failing_is_unavailable(vk, checkpoints):
    provider, credentials, emulator = vk
    emulator.inject("upload/video", "http_500")
    with pytest.raises(PlatformUnavailable):
        provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)


def test_an_upload_past_its_deadline_stops(vk, checkpoints):
    provider, credentials, _ = vk
    with pytest.raises(PlatformUnavailable, match="10 минут"):
        provider.upload(
            credentials,
            bytes_clip(DATA),
            PostDraft("t"),
            None,
            checkpoints.append,
            deadline=time.monotonic() - 1,
        )


def test_stats_are_fetched_200_videos_a_call(settings, platforms):
    access, _ = platforms.vk.issue_token()
    credentials = Credentials(SecretStr(access), account_id="1001")
    posts = platforms.vk.add_videos(1001, 450, views=42, likes=3, comments=2, reposts=1)

    stats = VkProvider(settings).fetch_stats(credentials, posts)

    assert [c["videos"] for c in platforms.vk.calls_to("video.get")] == [200, 200, 50]
    assert len(stats) == 450
    assert stats[posts[0]] == PostStats(views=42, likes=3, comments=2, reposts=1)


def test_oauth_code_exchange_with_pkce_and_refresh(settings, platforms):
    import httpx

    provider = VkProvider(settings)
    verifier, challenge = pkce_pair()
    url = provider.authorize_url("st", challenge, "https://api.local/oauth/vk/callback")
    approve = httpx.get(url.replace("/authorize?", "/authorize/approve?"))
    returned = httpx.URL(approve.headers["location"]).params
    assert returned["state"] == "st"

    credentials, account = provider.exchange_code(
        CodeExchange(returned["code"], verifier, "https://api.local/oauth/vk/callback", returned["device_id"])
    )
    assert account.account_id == "1001"
    assert credentials.extra["device_id"] == returned["device_id"]
    assert provider.check(credentials).account_id == "1001"

    refreshed = provider.refresh(credentials)
    assert refreshed.access_token.get_secret_value() != credentials.access_token.get_secret_value()
    assert provider.check(refreshed).account_id == "1001"
    # Refresh tokens are single use: the old one is refused now.
    with pytest.raises(TokenExpired):
        provider.refresh(credentials)


def test_a_wrong_pkce_verifier_is_refused(settings, platforms):
    import httpx

    provider = VkProvider(settings)
    _, challenge = pkce_pair()
    approve = httpx.get(
        provider.authorize_url("st", challenge, "https://cb").replace("/authorize?", "/authorize/approve?")
    )
    returned = httpx.URL(approve.headers["location"]).params
    with pytest.raises(TokenExpired):
        provider.exchange_code(
            CodeExchange(returned["code"], "not-the-verifier", "https://cb", returned["device_id"])
        )


def test_vk_reports_no_stats_error_type_for_telegram_only(vk):
    # VK has stats: StatsUnavailable is Telegram's alone.
    provider, credentials, _ = vk
    assert provider.fetch_stats(credentials, []) == {}
    assert not issubclass(StatsUnavailable, Rejected)
