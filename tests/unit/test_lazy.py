"""autopost.infra.lazy: a module deferred to its first use, safe when threads reach it together."""

from __future__ import annotations

import sys
import threading

import pytest

from autopost.infra.lazy import lazy, loaded

SLOW_MODULE = """
import time
time.sleep(0.3)  # a heavy import: another thread arrives meanwhile
ANSWER = 42
"""


def test_threads_reaching_a_deferred_module_together_all_see_it_whole(tmp_path, monkeypatch):
    (tmp_path / "slow_to_import.py").write_text(SLOW_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_to_import", raising=False)
    deferred = lazy("slow_to_import")
    assert not loaded("slow_to_import")
    seen, start = [], threading.Barrier(8)

    def read() -> None:
        start.wait()
        try:
            seen.append(deferred.ANSWER)
        except AttributeError as exc:  # a half-run module: what LazyLoader gave on 3.11
            seen.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [42] * 8
    assert loaded("slow_to_import")


def test_a_missing_module_is_said_at_once():
    with pytest.raises(ModuleNotFoundError):
        lazy("autopost.no_such_module")
