"""The local stack of a test session (devstack.process starts it as its own process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.process import Running, free_port, running, start, wait_until
from tests.support.https_receiver import Receiver, https_receiver, self_signed

__all__ = [
    "Running",
    "free_port",
    "local_stack",
    "receiver_certificate",
    "running",
    "start",
    "wait_until",
    "webhook_receiver",
]


@pytest.fixture(scope="session")
def receiver_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The certificate webhook receivers in tests serve with, trusted by the session's stack."""
    return self_signed(tmp_path_factory.mktemp("receiver-certificate"))


# Per package (tests/localstack, tests/browser each import it): a stack stops when the last
# test of its package is done, so its background work (pollers, the statistics schedule)
# never slows the moto tests that run after it in the same worker.
@pytest.fixture(scope="package")
def local_stack(
    tmp_path_factory: pytest.TempPathFactory, receiver_certificate: tuple[Path, Path]
) -> Iterator[Running]:
    """The local stack of this package's tests (one per xdist worker), on free ports. Its
    functions trust the test receivers' certificate (as a deployment trusts public CAs)."""
    environment = {"WEBHOOK_CA_FILE": str(receiver_certificate[0])}
    # Statistics every 5 s, not 20: the console's figures show up without a long wait.
    with running(tmp_path_factory.mktemp("stack"), "--stats-interval", "5", environment=environment) as stack:
        yield stack


@pytest.fixture
def webhook_receiver(receiver_certificate: tuple[Path, Path]) -> Iterator[Receiver]:
    """An HTTPS receiver on this machine the session's stack delivers webhooks to."""
    with https_receiver(certificate=receiver_certificate) as serving:
        yield serving
