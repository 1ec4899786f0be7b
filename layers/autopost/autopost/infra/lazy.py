"""Modules loaded on first use, so a cold start pays only for what its request needs.

`name = lazy("module")` at the top of a module stands for `import module`: a stand-in
exists at once, and the module is imported at the first attribute read through it. The
import is a plain `importlib.import_module`, so threads that reach it together wait for one
another (the standard library's `LazyLoader` does not, before Python 3.12.3: a second
thread could read a half-run module and find a name missing). Its parent package is
imported at once, so name a package whose `__init__` is light, or the package itself. This
is the one way autopost defers an import; what each handler loads at init and on its first
request is measured by benchmarks/cold_start.py.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any


class _Deferred(ModuleType):
    """Stands for a module until it is needed; every attribute is the real module's."""

    def __getattr__(self, attr: str) -> Any:
        # Only names the stand-in does not hold itself arrive here: all of the module's.
        return getattr(importlib.import_module(self.__name__), attr)


def lazy(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return _Deferred(name)


def loaded(name: str) -> bool:
    """Whether `name` has been imported, and not merely declared with `lazy`."""
    return name in sys.modules
