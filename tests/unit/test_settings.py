import pytest

from autopost.infra import runtime
from autopost.infra.settings import SettingsError, get_settings
from tests.support.settings import REQUIRED


@pytest.fixture(autouse=True)
def fresh():
    runtime.reset()
    yield
    runtime.reset()


def test_a_missing_setting_fails_with_its_name(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PUBLICATIONS_TABLE")
    with pytest.raises(SettingsError, match="PUBLICATIONS_TABLE"):
        get_settings()


def test_malformed_retry_delays_fail_clearly(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RETRY_DELAYS_SECONDS", "5,soon,60")
    with pytest.raises(SettingsError, match="RETRY_DELAYS_SECONDS"):
        get_settings()


def test_malformed_json_setting_fails_clearly(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PLANS", "{not json")
    with pytest.raises(SettingsError, match="PLANS"):
        get_settings()


def test_settings_are_read_once_per_environment(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RETRY_DELAYS_SECONDS", "1,2,3")
    first = get_settings()
    monkeypatch.setenv("RETRY_DELAYS_SECONDS", "4,5,6")
    assert get_settings() is first
    assert first.retry_delays_seconds == (1, 2, 3)


def test_a_function_lacking_a_setting_only_it_uses_fails_at_its_start_naming_it(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STATS_CONTINUE_QUEUE_URL", raising=False)
    from functions.stats_sync import handler

    with pytest.raises(RuntimeError, match="STATS_CONTINUE_QUEUE_URL"):
        handler.sync()
    monkeypatch.setenv("STATS_CONTINUE_QUEUE_URL", "https://sqs.local/continue")
    runtime.reset()
    assert get_settings().require(*handler.NEEDS).stats_continue_queue_url == "https://sqs.local/continue"
