import hashlib

import httpx
import pytest
from pydantic import SecretStr

from autopost.errors import PlatformRateLimited, PlatformUnavailable, TokenExpired
from autopost.providers.base import Credentials, PostDraft, PostStats
from autopost.providers.dzen import DzenProvider
from autopost.providers.oauth import CodeExchange, pkce_pair
from autopost.secrets import resolve
from tests.support.platforms import bytes_clip

DATA = b"dzen-clip" * 100_000


@pytest.fixture
def dzen(settings, platforms):
    access, refresh = platforms.dzen.issue_token()
    secret = resolve(settings.yandex_client_secret, None, "YANDEX_CLIENT_SECRET")
    return DzenProvider(settings, secret), Credentials(SecretStr(access), SecretStr(refresh)), platforms.dzen


def test_upload_then_publish(dzen, checkpoints):
    provider, credentials, emulator = dzen
    result = provider.upload(
        credentials, bytes_clip(DATA), PostDraft("Заголовок", "Текст"), None, checkpoints.append
    )
    (video,) = emulator.videos.values()
    assert video.published
    assert video.sha256 == hashlib.sha256(DATA).hexdigest()
    assert (video.title, video.description) == ("Заголовок", "Текст")
    assert result.url == f"https://dzen.ru/video/watch/{video.video_id}"
    assert [c["uploaded"] for c in checkpoints] == [False, True]


def test_a_retry_after_the_upload_only_publishes(dzen, checkpoints):
    provider, credentials, emulator = dzen
    emulator.inject("publish", "http_500")
    with pytest.raises(PlatformUnavailable):
        provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), checkpoints[-1], checkpoints.append)
    assert len(emulator.calls_to("create")) == 1
    assert len(emulator.calls_to("upload")) == 1
    assert len(emulator.videos) == 1


@pytest.mark.parametrize(
    ("kind", "error"),
    [("token_expired", TokenExpired), ("rate_limit", PlatformRateLimited), ("http_500", PlatformUnavailable)],
)
def test_failures_map_onto_the_platform_error_set(dzen, checkpoints, kind, error):
    provider, credentials, emulator = dzen
    emulator.inject("create", kind, retry_after=9)
    with pytest.raises(error):
        provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)


def test_stats_in_batches(dzen, checkpoints):
    provider, credentials, emulator = dzen
    result = provider.upload(credentials, bytes_clip(b"x"), PostDraft("t"), None, checkpoints.append)
    emulator.videos[result.post_id].views = 7
    assert provider.fetch_stats(credentials, [result.post_id]) == {result.post_id: PostStats(7, 0, 0, 0)}


def test_oauth_exchange_and_refresh(settings, platforms):
    provider = DzenProvider(settings, SecretStr(platforms.dzen.client_secret))
    verifier, challenge = pkce_pair()
    approve = httpx.get(
        provider.authorize_url("s1", challenge, "https://cb").replace("/authorize?", "/authorize/approve?")
    )
    code = httpx.URL(approve.headers["location"]).params["code"]
    credentials, account = provider.exchange_code(CodeExchange(code, verifier, "https://cb"))
    assert account.account_id == "77001"
    refreshed = provider.refresh(credentials)
    assert provider.check(refreshed).account_id == "77001"
    with pytest.raises(TokenExpired):
        provider.refresh(credentials)


def test_a_wrong_client_secret_fails_the_exchange(settings, platforms):
    provider = DzenProvider(settings, SecretStr("wrong"))
    with pytest.raises(TokenExpired):
        provider.exchange_code(CodeExchange("code", "verifier", "https://cb"))
