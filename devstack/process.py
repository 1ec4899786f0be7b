"""The local stack (`make dev`) as its own process, driven only through its public surfaces:
HTTP with a token, S3 through boto3, the emulators' control and inspection endpoints. The
tests and the benchmarks start it this way."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devstack import tokens
from devstack.template import ROOT
from devstack.upload import s3_of
from devstack.videos import make_video


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Running:
    info: dict[str, Any]
    process: subprocess.Popen
    ports: tuple[int, int]
    ready_seconds: float
    state_file: Path

    def api(self, user: str, plan: str = "pro") -> httpx.Client:
        return httpx.Client(
            base_url=self.info["api"],
            headers={"Authorization": f"Bearer {tokens.mint(user, plan)}"},
            timeout=30,
        )

    @property
    def s3(self) -> Any:
        return s3_of(self.info)

    def emulator(self, name: str) -> str:
        return self.info["emulators"][name]

    def upload_ready_clip(self, user: str, clip: str) -> None:
        self.s3.put_object(Bucket=self.info["bucket"], Key=f"clips/{user}/{clip}.mp4", Body=make_video("mp4"))
        api = self.api(user)
        wait_until(
            lambda: api.get(f"/clips/{clip}").json().get("status") == "ready", 20, f"clip {clip} ready"
        )


def wait_until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def start(
    state_file: Path,
    api_port: int,
    moto_port: int,
    output: Any = subprocess.PIPE,
    extra: tuple[str, ...] = (),
    environment: dict[str, str] | None = None,
) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "devstack",
        "--port",
        str(api_port),
        "--moto-port",
        str(moto_port),
        "--retry-delays",
        "1,1,1",
        "--task-timeout",
        "30",
        "--state-file",
        str(state_file),
        *extra,
    ]
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module, our arguments
        command,
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT if output is not subprocess.PIPE else subprocess.PIPE,
        text=True,
        env={**os.environ, **(environment or {})},
    )


@contextmanager
def running(folder: Path, *extra: str, environment: dict[str, str] | None = None) -> Iterator[Running]:
    """A local stack as its own process on free ports; its log in `folder/stack.log`."""
    state_file, log = folder / "stack.json", (folder / "stack.log").open("w")
    ports = (free_port(), free_port())
    began = time.monotonic()
    process = start(state_file, *ports, output=log, extra=extra, environment=environment)
    try:
        wait_until(lambda: state_file.exists() or process.poll() is not None, 60, "the local stack")
        if process.poll() is not None:
            raise AssertionError(f"the local stack exited: {(folder / 'stack.log').read_text()}")
        yield Running(
            json.loads(state_file.read_text()), process, ports, time.monotonic() - began, state_file
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
