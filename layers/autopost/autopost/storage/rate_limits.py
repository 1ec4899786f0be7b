"""Per-user request budgets shared by every Lambda instance: fixed windows in DynamoDB.

Each window is one control item whose counter is incremented with a condition that it is
still under the budget; the item expires by TTL soon after its window ends.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from autopost.errors import RateLimited
from autopost.settings import Settings
from autopost.storage.tables import records


@dataclass(frozen=True)
class Budget:
    name: str
    limit: int
    window_seconds: float


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self._control = records(settings).control

    def hit(self, budget: Budget, user_id: str, now: float | None = None) -> None:
        """Count one request, or raise RateLimited with the seconds until the window ends."""
        moment = time.time() if now is None else now
        window_start = int(moment // budget.window_seconds) * budget.window_seconds
        window_end = window_start + budget.window_seconds
        control = self._control
        item = control(f"rate#{budget.name}#{user_id}#{window_start}")
        try:
            item.update(
                actions=[
                    control.hits.add(1),
                    control.expires_at.set(datetime.fromtimestamp(window_end + budget.window_seconds, UTC)),
                ],
                condition=control.hits.does_not_exist() | (control.hits < budget.limit),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                limited = RateLimited(retry_after=max(1, math.ceil(window_end - moment)))
                limited.wait_seconds = max(0.01, window_end - moment)
                raise limited from exc
            raise
