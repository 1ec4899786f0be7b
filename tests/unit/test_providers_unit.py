import base64
import hashlib

import pytest
from pydantic import SecretStr

from autopost.domain.errors import UnknownPlatform
from autopost.domain.platforms import Platform
from autopost.infra.settings import Settings
from autopost.providers import provider_for
from autopost.providers.dzen import DzenProvider
from autopost.providers.oauth import pkce_pair
from autopost.providers.rutube import RutubeProvider
from autopost.providers.telegram import TelegramProvider
from autopost.providers.vk import VkProvider, _credentials
from tests.support.settings import REQUIRED


@pytest.fixture
def settings(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return Settings.from_environment()


@pytest.mark.parametrize(
    ("name", "kind"),
    [("vk", VkProvider), ("telegram", TelegramProvider), ("rutube", RutubeProvider), ("dzen", DzenProvider)],
)
def test_the_factory_maps_each_platform_to_its_provider(settings, name, kind):
    provider = provider_for(name, settings)
    assert isinstance(provider, kind)
    assert provider.platform is Platform(name)


@pytest.mark.parametrize("name", ["tiktok", "", "VK "])
def test_an_unknown_platform_is_a_clear_error(settings, name):
    with pytest.raises(UnknownPlatform) as caught:
        provider_for(name, settings)
    assert caught.value.code == "UNKNOWN_PLATFORM"
    assert caught.value.message == "Неизвестная платформа"


def test_upload_timeouts_are_the_specified_ones(settings):
    seconds = {p.value: provider_for(p, settings).upload_timeout_seconds for p in Platform}
    assert seconds == {"vk": 600, "rutube": 900, "telegram": 300, "dzen": 600}


def test_pkce_pairs_are_s256_and_random():
    verifier, challenge = pkce_pair()
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    assert challenge == expected
    assert 43 <= len(verifier) <= 128
    assert pkce_pair()[0] != verifier


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one():
    old = SecretStr("old-refresh")
    kept = _credentials({"access_token": "new-access", "expires_in": 3600}, old, "1", {})
    assert kept.refresh_token is old
    replaced = _credentials({"access_token": "a", "refresh_token": "new-refresh"}, old, "1", {})
    assert replaced.refresh_token.get_secret_value() == "new-refresh"


def test_vk_authorize_url_demands_pkce(settings):
    url = provider_for("vk", settings).authorize_url("the-state", "the-challenge", "https://api/cb")
    assert url.startswith("https://id.vk.com/authorize?")
    for part in (
        "code_challenge=the-challenge",
        "code_challenge_method=S256",
        "state=the-state",
        "response_type=code",
    ):
        assert part in url
