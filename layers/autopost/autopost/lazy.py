"""Modules loaded on first use, so a cold start pays only for what its request needs.

`name = lazy("module")` at the top of a module stands for `import module`: the module object
exists at once and its code runs at the first attribute read (the standard library's
`importlib.util.LazyLoader`). Its parent package is imported at once, so name a package
whose `__init__` is light, or the package itself. This is the one way autopost defers an import; what each
handler loads at init and on its first request is measured by benchmarks/cold_start.py.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType

_lock = threading.Lock()


def lazy(name: str) -> ModuleType:
    with _lock:
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        loader = importlib.util.LazyLoader(spec.loader)
        spec.loader = loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader.exec_module(module)
        return module


def loaded(name: str) -> bool:
    """Whether `name` has run: imported, and not merely declared with `lazy`."""
    module = sys.modules.get(name)
    return module is not None and not isinstance(module, importlib.util._LazyModule)
