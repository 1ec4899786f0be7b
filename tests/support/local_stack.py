"""The local stack of a test session (devstack.process starts it as its own process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.process import Running, free_port, running, start, wait_until

__all__ = ["Running", "free_port", "local_stack", "running", "start", "wait_until"]


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The local stack of this test session (one per xdist worker), on free ports."""
    with running(tmp_path_factory.mktemp("stack")) as stack:
        yield stack
