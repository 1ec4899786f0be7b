import pytest

from autopost.infra.settings import Settings
from tests.support.settings import REQUIRED


@pytest.fixture
def settings(platforms, monkeypatch) -> Settings:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return Settings.from_environment()


@pytest.fixture
def checkpoints() -> list:
    return []
