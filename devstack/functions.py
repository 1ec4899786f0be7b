"""Lambda functions, locally: each concurrent environment a process of its own
(devstack.lambda_env), made when a call finds none free, kept warm between calls, and
dropped when it crashes or outlives its timeout, as Lambda does. `Chaos` kills environments
in the middle of calls, to test that a crash anywhere loses and doubles nothing."""

from __future__ import annotations

import json
import logging
import multiprocessing
import queue
import random
import secrets
import statistics
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from devstack.lambda_env import Environment, serve
from devstack.provision import FunctionSpec
from devstack.template import ROOT

LOG = logging.getLogger("devstack")
# Spawned, not forked: the stack's own threads (moto, the gateway) must not be copied mid-step.
_PROCESSES = multiprocessing.get_context("spawn")
# What a call may take beyond the function's timeout before its environment is killed.
GRACE_SECONDS = 2.0
# Lambda gives init 10 s; a local machine starting many environments at once needs longer.
INIT_SECONDS = 60.0


class FunctionError(RuntimeError):
    """The handler raised: Lambda answers the caller with the error."""


class FunctionCrashed(RuntimeError):
    """The environment died during the call (a crash, a kill)."""


class FunctionTimedOut(RuntimeError):
    """The call outlived the function's timeout; Lambda stops its environment."""


@dataclass
class _Running:
    process: BaseProcess
    connection: Connection

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()


@dataclass
class Chaos:
    """Kills the environment during some calls: each call with probability `rate`, at a
    random moment within how long calls of the function usually take, at most
    `max_per_publication` times for any one publication (so each can still finish)."""

    rate: float
    max_per_publication: int = 2
    seed: int | None = None
    kills: Counter[str] = field(default_factory=Counter)
    _planned: Counter[str] = field(default_factory=Counter)
    _durations: deque[float] = field(default_factory=lambda: deque(maxlen=50))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - fault timing, not a secret

    def plan(self, event: dict[str, Any]) -> tuple[str, float] | None:
        """(publication, seconds after the call starts) when this call is to be killed."""
        publication = _publication_of(event)
        with self._lock:
            if publication is None or self._planned[publication] >= self.max_per_publication:
                return None
            if self._random.random() >= self.rate:
                return None
            self._planned[publication] += 1
            typical = statistics.median(self._durations) if self._durations else 1.0
            return publication, self._random.uniform(0.0, typical * 1.2)

    def took(self, seconds: float) -> None:
        with self._lock:
            self._durations.append(seconds)

    def killed(self, publication: str) -> None:
        with self._lock:
            self.kills[publication] += 1
        # One line per kill: the tests count them in the stack's log. One write, so lines
        # from kills at the same moment do not interleave (print writes text and newline apart).
        _say(f"chaos: killed an environment working on {publication}")


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _publication_of(event: dict[str, Any]) -> str | None:
    for record in event.get("Records") or []:
        try:
            return str(json.loads(record["body"])["publicationId"])
        except (KeyError, TypeError, ValueError):
            continue
    return None


class FunctionPool:
    """Up to `concurrency` environments of one function; `invoke` waits for a free one."""

    def __init__(
        self,
        spec: FunctionSpec,
        variables: dict[str, str],
        concurrency: int = 1,
        traced: bool = False,
        timeout: int | None = None,
        chaos: Chaos | None = None,
    ) -> None:
        self.spec = spec
        self.timeout = timeout or spec.timeout
        self._variables = variables
        self._traced = traced
        self._chaos = chaos
        self._slots = threading.BoundedSemaphore(concurrency)
        self._free: queue.SimpleQueue[_Running] = queue.SimpleQueue()
        self._all: list[_Running] = []
        self._busy: list[_Running] = []
        self._lock = threading.Lock()
        self._stopped = False

    def _start_environment(self) -> _Running:
        module, _, handler = self.spec.handler.rpartition(".")
        environment = Environment(
            path=ROOT / self.spec.code_uri / f"{module}.py",
            module_name=self.spec.module,
            handler_name=handler,
            function_name=self.spec.logical_id,
            timeout_seconds=self.timeout,
            memory_mb=self.spec.memory_mb,
            variables=self._variables,
        )
        ours, theirs = _PROCESSES.Pipe()
        process = _PROCESSES.Process(
            target=serve, args=(theirs, environment), name=self.spec.logical_id, daemon=True
        )
        process.start()
        theirs.close()
        running = _Running(process, ours)
        with self._lock:
            self._all.append(running)
        # Init (imports, module state) has its own limit in Lambda, apart from the timeout.
        try:
            if not ours.poll(INIT_SECONDS):
                raise FunctionTimedOut(f"{self.spec.logical_id}: init took over {INIT_SECONDS} s")
            ours.recv()
        except (EOFError, OSError, FunctionTimedOut) as exc:
            self._drop(running)
            raise FunctionCrashed(f"{self.spec.logical_id}: init failed (its log says why)") from exc
        return running

    def kill_busy(self) -> int:
        """Kill every environment that is inside a call now, as a crashed Lambda dies
        (a test's chosen moment: the platform is in the middle of its answer)."""
        with self._lock:
            busy = list(self._busy)
        for running in busy:
            running.kill()
            _say(f"chaos: killed a busy {self.spec.logical_id} environment")
        return len(busy)

    def _drop(self, running: _Running) -> None:
        running.kill()
        running.connection.close()
        with self._lock:
            if running in self._all:
                self._all.remove(running)

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._slots:
            try:
                running = self._free.get_nowait()
            except queue.Empty:
                running = self._start_environment()
            return self._call(running, event)

    def _call(self, running: _Running, event: dict[str, Any]) -> Any:
        trace = None
        if self._traced:
            # What the Lambda runtime sets for each invocation of a traced function.
            root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
            trace = f"Root={root};Parent={secrets.token_hex(8)};Sampled=1"
        planned = self._chaos.plan(event) if self._chaos else None
        timer, answered = None, threading.Event()
        if planned is not None and self._chaos is not None:
            chaos, (publication, delay) = self._chaos, planned

            def kill() -> None:
                if not answered.is_set() and running.process.is_alive():
                    running.kill()
                    chaos.killed(publication)

            timer = threading.Timer(delay, kill)
            timer.daemon = True
        began = time.monotonic()
        with self._lock:
            self._busy.append(running)
        try:
            running.connection.send((event, trace))
            if timer is not None:
                timer.start()
            if not running.connection.poll(self.timeout + GRACE_SECONDS):
                self._drop(running)
                raise FunctionTimedOut(f"{self.spec.logical_id} timed out after {self.timeout} s")
            answer = running.connection.recv()
        except (EOFError, OSError) as exc:
            self._drop(running)
            raise FunctionCrashed(f"{self.spec.logical_id}: the environment died") from exc
        finally:
            answered.set()
            if timer is not None:
                timer.cancel()
            with self._lock:
                self._busy = [r for r in self._busy if r is not running]
        if self._chaos is not None:
            self._chaos.took(time.monotonic() - began)
        if self._stopped or not running.process.is_alive():
            self._drop(running)
        else:
            self._free.put(running)
        if answer[0] == "error":
            raise FunctionError(f"{self.spec.logical_id}: {answer[1]}: {answer[2]}")
        return answer[1]

    def stop(self) -> None:
        """End every environment (one in a call is killed)."""
        self._stopped = True
        with self._lock:
            everyone = list(self._all)
            self._all.clear()
        for running in everyone:
            running.kill()
            running.connection.close()
