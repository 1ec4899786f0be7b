"""Platform request budgets, shared through DynamoDB by every worker and API call."""

from __future__ import annotations

import time

import pytest
from pydantic import SecretStr

from autopost.connecting.throttling import RequestBudgets
from autopost.domain.models import Credentials
from autopost.domain.platforms import Platform
from autopost.infra.settings import get_settings
from autopost.storage.rate_limits import RateLimiter


def test_vk_budgets_are_per_token_even_before_the_account_is_known(harness):
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    throttle = RequestBudgets(RateLimiter(get_settings()), sleep=sleep).throttle_for(Platform.VK)
    assert throttle is not None
    # Many users connecting VK at once: their tokens' budgets are their own.
    for user in range(5):
        throttle(Credentials(SecretStr(f"token-of-user-{user}")))
    assert waits == []
    # The same token again within its half-second: it waits, for the rest of it only.
    throttle(Credentials(SecretStr("token-of-user-0")))
    throttle(Credentials(SecretStr("token-of-user-0")))
    assert waits
    assert 0 < waits[0] <= 0.5


EDGE = 1_800_000_000.0  # a whole minute: a window starts here


def test_no_one_gets_twice_the_budget_across_a_windows_edge(harness):
    """Fixed windows let 2 x limit through around an edge (the end of one, the start of the
    next); the sliding window lets no more than the limit through in any span of its length."""
    from autopost.domain.errors import TooManyRequests
    from autopost.storage.rate_limits import Budget

    limiter, budget = RateLimiter(get_settings()), Budget("edge", limit=10, window_seconds=60)
    for _ in range(10):
        limiter.hit(budget, "flooder", now=EDGE - 0.5)
    refused = 0
    for n in range(10):  # just past the edge: a fixed window would take all ten
        try:
            limiter.hit(budget, "flooder", now=EDGE + 0.5 + n * 0.01)
        except TooManyRequests:
            refused += 1
    assert refused == 10
    # ... and the wait it names is when one fits again: about a tenth of the window on
    with pytest.raises(TooManyRequests) as limited:
        limiter.hit(budget, "flooder", now=EDGE + 1)
    assert 5 <= limited.value.wait_seconds <= 6
    limiter.hit(budget, "flooder", now=EDGE + 6.1)
    # another user's budget is their own
    for _ in range(10):
        limiter.hit(budget, "someone-else", now=EDGE + 0.5)


def test_the_sliding_window_admits_the_limit_over_time(harness):
    """Steady use just under the budget's rate is never refused (the sliding counter takes
    the previous window as spread evenly and rounds up: use at exactly the limit's rate may
    wait a moment at an edge)."""
    from autopost.storage.rate_limits import Budget

    limiter, budget = RateLimiter(get_settings()), Budget("steady", limit=6, window_seconds=60)
    for n in range(30):  # one every 12 s, for six minutes: 5 a minute
        limiter.hit(budget, "steady-user", now=EDGE + n * 12)
