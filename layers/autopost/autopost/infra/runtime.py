"""State kept in a warm Lambda environment (settings, clients, services), resettable at once.

Everything cached for the life of an environment is declared with `@warm`; `reset()` forgets
it all, for tests and for the local stack, which change the environment between runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_caches: list[Any] = []


def warm(function: F) -> F:
    cached = functools.cache(function)
    _caches.append(cached)
    return cached  # type: ignore[return-value]


def reset() -> None:
    for cached in _caches:
        cached.cache_clear()
