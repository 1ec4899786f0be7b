"""Shared by every test: fake AWS credentials, a quiet powertools, the platform emulators."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from autopost.infra import runtime
from emulators.suite import Platforms, start_platforms
from tests.support.local_stack import (  # noqa: F401 - session fixtures for two packages
    receiver_certificate,
    webhook_receiver,
)

REGION = "eu-central-1"
# The key the tests encrypt tokens with (a real deployment reads it from Secrets Manager);
# random, so a log-leak test can look for pieces of it without matching ordinary words.
TOKEN_SECRET = secrets.token_urlsafe(40)
WEBHOOK_SECRET_KEY = secrets.token_urlsafe(40)


def pytest_configure(config: pytest.Config) -> None:
    # Set before any test imports a module that might build an AWS client.
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_NAMESPACE": "AutopostTest",
            "POWERTOOLS_SERVICE_NAME": "autopost",
            "PLATFORM_TOKEN_SECRET": TOKEN_SECRET,
            "WEBHOOK_SECRET_KEY": WEBHOOK_SECRET_KEY,
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)


# The longest work first (`make test` runs `--dist loadfile --no-loadscope-reorder`): each
# local-stack file is one long scenario, then the browser's, then the moto files, then the
# unit tests that fill the gaps, so the two workers finish together instead of one waiting
# out a long scenario scheduled last.
_LONGEST_FIRST = ("tests/localstack/", "tests/browser/", "tests/integration/", "tests/unit/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, folder in enumerate(_LONGEST_FIRST) if item.nodeid.startswith(folder)), 0)

    items.sort(key=rank)  # stable: the order within each file stays


@pytest.fixture(scope="session")
def emulators_session() -> Iterator[Platforms]:
    platforms = start_platforms()
    yield platforms
    for emulator in platforms.all():
        emulator.stop()


@pytest.fixture
def platforms(emulators_session: Platforms, monkeypatch: pytest.MonkeyPatch) -> Platforms:
    """Fresh emulators (state and faults reset) with the settings pointing at them."""
    for emulator in emulators_session.all():
        emulator.reset()
    for name, value in emulators_session.environment().items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    return emulators_session
