import pytest

from autopost.domain.platforms import MB, Platform, format_duration, format_size
from autopost.infra.settings import Settings
from tests.support.settings import REQUIRED


@pytest.fixture
def env(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.mark.parametrize(
    ("size", "text"),
    [(50 * MB, "50 МБ"), (2000 * MB, "2000 МБ"), (4 * 1024 * MB, "4 ГБ"), (MB + MB // 2, "1.5 МБ")],
)
def test_sizes_read_as_the_messages_write_them(size, text):
    assert format_size(size) == text


@pytest.mark.parametrize(("seconds", "text"), [(180, "3 мин"), (59, "59 с"), (90, "90 с")])
def test_durations(seconds, text):
    assert format_duration(seconds) == text


def test_telegram_allows_50_mb_by_default_and_2000_with_a_local_bot_api_server(env):
    assert Settings.from_environment().limit_for(Platform.TELEGRAM).max_bytes == 50 * MB
    env.setenv("TELEGRAM_LOCAL_BOT_API", "true")
    assert Settings.from_environment().limit_for(Platform.TELEGRAM).max_bytes == 2000 * MB


def test_limits_are_configurable_per_platform_and_keep_the_others(env):
    env.setenv("PLATFORM_LIMITS", '{"vk": {"max_bytes": 1048576, "max_duration_seconds": 60}}')
    settings = Settings.from_environment()
    assert settings.limit_for(Platform.VK).max_bytes == MB
    assert settings.limit_for(Platform.VK).max_duration_seconds == 60
    assert settings.limit_for(Platform.TELEGRAM).max_bytes == 50 * MB


def test_plans_decide_which_platforms_a_user_may_publish_to(env):
    settings = Settings.from_environment()
    assert settings.plan_platforms("free") == {Platform.VK, Platform.TELEGRAM}
    assert settings.plan_platforms("pro") == set(Platform)
    assert settings.plan_platforms("no-such-plan") == set()
    env.setenv("PLANS", '{"free": ["telegram"]}')
    assert Settings.from_environment().plan_platforms("free") == {Platform.TELEGRAM}
