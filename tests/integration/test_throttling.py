"""Platform request budgets, shared through DynamoDB by every worker and API call."""

from __future__ import annotations

import time

from pydantic import SecretStr

from autopost.platforms import Platform
from autopost.providers.base import Credentials
from autopost.settings import get_settings
from autopost.storage.rate_limits import RateLimiter
from autopost.throttling import RequestBudgets


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
    # The same token again within its half-second: it waits.
    throttle(Credentials(SecretStr("token-of-user-0")))
    throttle(Credentials(SecretStr("token-of-user-0")))
    assert waits
