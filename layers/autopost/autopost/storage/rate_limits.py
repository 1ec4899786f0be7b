"""Request budgets shared by every Lambda instance: sliding windows in DynamoDB.

Each fixed window is one control item whose counter is incremented with a condition; a
request is let through while this window's count plus the previous window's, weighted by how
much of it still lies within the last `window_seconds`, stays under the budget (the
"sliding window counter"). So no one gets twice the budget across a window's edge, as fixed
windows allow. The items expire by TTL soon after they stop counting.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from autopost.domain.errors import TooManyRequests
from autopost.infra.settings import Settings
from autopost.storage.tables import records


@dataclass(frozen=True)
class Budget:
    name: str
    limit: int
    window_seconds: float
    # False: plain fixed windows, for a platform's own limit where the sliding estimate (which
    # takes the previous window's requests as spread evenly) could let a burst through that the
    # platform would refuse; such a budget is cut into windows small enough to be strict.
    sliding: bool = True


@dataclass(frozen=True)
class Hit:
    """One counted request: the window item it was counted in, to give it back."""

    key: str


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self._control = records(settings).control

    def left(self, budget: Budget, user_id: str, now: float | None = None) -> int:
        """How many more requests the budget lets through now."""
        _, start, _, room = self._window(budget, user_id, now)
        return max(0, room - self._hits(budget, user_id, start))

    def refund(self, hit: Hit) -> None:
        """Give a counted request back (it turned out not to be the kind the budget limits)."""
        control = self._control
        with contextlib.suppress(UpdateError):  # its window has expired: nothing to give back
            control(hit.key).update(actions=[control.hits.add(-1)], condition=control.hits > 0)

    def hit(self, budget: Budget, user_id: str, now: float | None = None) -> Hit:
        """Count one request, or raise TooManyRequests with the seconds until one fits again."""
        moment, start, previous, room = self._window(budget, user_id, now)
        control = self._control
        item = control(_key(budget, user_id, start))
        try:
            if room <= 0:
                raise _full(budget, moment, start, previous, 0)
            item.update(
                actions=[
                    control.hits.add(1),
                    control.expires_at.set(datetime.fromtimestamp(start + 3 * budget.window_seconds, UTC)),
                ],
                condition=control.hits.does_not_exist() | (control.hits < room),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            raise _full(budget, moment, start, previous, self._hits(budget, user_id, start)) from exc
        return Hit(_key(budget, user_id, start))

    def _window(self, budget: Budget, user_id: str, now: float | None) -> tuple[float, float, int, int]:
        """Now, this window's start, the previous window's count, and the room this window
        has: the budget less the previous window's requests, weighted by how much of it the
        sliding one still covers (rounded up: the budget is never exceeded, only approached)."""
        moment = time.time() if now is None else now
        window = budget.window_seconds
        start = int(moment // window) * window
        previous = self._hits(budget, user_id, start - window) if budget.sliding else 0
        return moment, start, previous, budget.limit - math.ceil(previous * (1 - (moment - start) / window))

    def _hits(self, budget: Budget, user_id: str, start: float) -> int:
        try:
            item = self._control.get(_key(budget, user_id, start), attributes_to_get=["hits"])
        except self._control.DoesNotExist:
            return 0
        return int(item.hits or 0)


def _key(budget: Budget, user_id: str, start: float) -> str:
    return f"rate#{budget.name}#{user_id}#{start}"


def _full(budget: Budget, moment: float, start: float, previous: int, current: int) -> TooManyRequests:
    """Refused until one more request fits the sliding window: while this window lasts,
    once enough of the previous one has slid out (previous * share <= limit - current - 1);
    else in the next one, once enough of this one has."""
    limit, window = budget.limit, budget.window_seconds
    if not budget.sliding:
        at = start + window
    elif current < limit and previous > 0:
        at = start + window * (1 - (limit - current - 1) / previous)
    else:
        at = start + window + window * max(0.0, 1 - (limit - 1) / current) if current else start + window
    wait = max(0.01, at - moment)
    limited = TooManyRequests(retry_after=max(1, math.ceil(wait)))
    limited.wait_seconds = wait
    return limited
