"""Platform request budgets shared by every concurrent worker (DynamoDB windows).

A short wait (VK's next second) is slept through; a long one (Telegram's next minute)
becomes PlatformRateLimited, which the worker turns into a delayed retry of its message.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from autopost.domain.errors import PlatformRateLimited, TooManyRequests
from autopost.domain.models import Credentials
from autopost.domain.platforms import Platform
from autopost.storage.rate_limits import Budget, RateLimiter

# About 3 requests a second per user token, which VK counts strictly. One call per
# half-second window keeps any second at 3 or fewer; "3 per 1-second window" would allow 6
# across a boundary, and a sliding estimate could allow 4.
VK_CALLS = Budget("vk-calls", limit=1, window_seconds=0.5, sliding=False)
TELEGRAM_POSTS = Budget("telegram-posts", limit=20, window_seconds=60)  # about 20 a minute per channel
MAX_SLEEP_SECONDS = 2.0


class RequestBudgets:
    def __init__(self, limiter: RateLimiter, sleep: Callable[[float], None] = time.sleep) -> None:
        self._limiter = limiter
        self._sleep = sleep

    def acquire(self, budget: Budget, key: str, max_sleep: float = MAX_SLEEP_SECONDS) -> None:
        waited = 0.0
        while True:
            try:
                self._limiter.hit(budget, key)
                return
            except TooManyRequests as exc:
                if waited + exc.wait_seconds > max_sleep:
                    raise PlatformRateLimited(
                        exc.retry_after, "Достигнут лимит запросов к платформе"
                    ) from exc
                self._sleep(exc.wait_seconds)
                waited += exc.wait_seconds

    def throttle_for(self, platform: Platform) -> Callable[[Credentials], None] | None:
        """What a provider calls before each API call: VK's per-token budget; the others
        have none per call (Telegram's is per post, taken by the worker)."""
        if platform is not Platform.VK:
            return None
        return lambda credentials: self.acquire(VK_CALLS, _token_key(credentials))


def _token_key(credentials: Credentials) -> str:
    """VK counts per token. Before the account is known (while connecting), the token's
    digest stands for it: one shared key would make every user's connect wait for the others."""
    if credentials.account_id:
        return credentials.account_id
    return "token-" + hashlib.sha256(credentials.access_token.get_secret_value().encode()).hexdigest()[:32]
