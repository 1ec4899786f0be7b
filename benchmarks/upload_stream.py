"""Upload 50 MB and 500 MB clips from moto S3 through the worker's real upload path
(S3 ranged GET -> autopost.publish_worker.clip_source -> VK provider multipart) to the VK
emulator, and compare with `curl --data-binary` of the same body to the same emulator.

    python benchmarks/upload_stream.py [--sizes 50,500]

Prints, per size: seconds, MB/s, peak RSS growth over the process's warmed-up baseline,
and curl's seconds and MB/s. Targets: RSS growth under 64 MB for both sizes (flat in file
size), throughput at least 70% of curl's. moto and the emulator run in processes of their
own, so only the upload path's memory is measured; each size runs in a fresh process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

MB = 1024 * 1024
RUNS = 3
BUCKET = "bench-clips"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


@contextlib.contextmanager
def servers() -> Iterator[tuple[str, str]]:
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    emulator = subprocess.Popen(
        [sys.executable, "-m", "emulators", "vk=0"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        vk_url = json.loads(emulator.stdout.readline())["vk"]
        s3_url = f"http://127.0.0.1:{port}"
        wait_for(s3_url)
        yield s3_url, vk_url
    finally:
        for process in (moto, emulator):
            process.terminate()
            process.wait(timeout=10)


def environment(s3_url: str, vk_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_REGION": "eu-central-1",
        "AWS_ENDPOINT_URL": s3_url,
        "VK_API_URL": vk_url,
        "CLIPS_TABLE": "-",
        "PUBLICATIONS_TABLE": "-",
        "CONNECTIONS_TABLE": "-",
        "CONTROL_TABLE": "-",
        "CLIPS_BUCKET": BUCKET,
        "POWERTOOLS_TRACE_DISABLED": "1",
    }


def block() -> bytes:
    return secrets.token_bytes(MB)


def put_object(size_mb: int) -> None:
    """Child: put a `size_mb` object into moto S3, streamed."""
    import boto3

    s3 = boto3.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    data = block()

    class Source:
        """`size_mb` MB of a repeated random block, read like a file (full reads until EOF)."""

        def __init__(self) -> None:
            self.position, self.size = 0, size_mb * MB

        def read(self, size: int = -1) -> bytes:
            end = self.size if size < 0 else min(self.size, self.position + size)
            piece = b"".join(
                data[offset % MB : min(MB, offset % MB + end - offset)]
                for offset in _steps(self.position, end)
            )
            self.position = end
            return piece

    s3.upload_fileobj(Source(), BUCKET, f"clips/bench/clip-{size_mb}.mp4")
    assert (
        s3.head_object(Bucket=BUCKET, Key=f"clips/bench/clip-{size_mb}.mp4")["ContentLength"] == size_mb * MB
    )


def _steps(start: int, end: int) -> Iterator[int]:
    offset = start
    while offset < end:
        yield offset
        offset += MB - offset % MB


def vk_credentials(vk_url: str):
    import httpx
    from pydantic import SecretStr

    from autopost.domain.models import Credentials

    token = httpx.post(f"{vk_url}/_emulator/token", json={}).json()
    return Credentials(SecretStr(token["access_token"]), account_id=str(token["user_id"]))


def measure(size_mb: int, vk_url: str) -> None:
    """Child: the worker's upload path for one object; prints seconds and RSS growth."""
    import httpx

    from autopost.domain.platforms import PublishFormat
    from autopost.infra.aws import client
    from autopost.infra.settings import get_settings
    from autopost.providers.base import PostDraft
    from autopost.providers.vk import VkProvider
    from autopost.publish_worker.clip_source import clip_source

    s3, provider, credentials = client("s3"), VkProvider(get_settings()), vk_credentials(vk_url)

    def upload(key: str) -> float:
        head = s3.head_object(Bucket=BUCKET, Key=key)
        started = time.perf_counter()
        # A regular video: video.save and its upload server (a clip's upload is the same bytes).
        draft = PostDraft("bench", format=PublishFormat.VIDEO)
        provider.publish(credentials, clip_source(s3, BUCKET, key, head, None), draft, None, lambda _: None)
        return time.perf_counter() - started

    upload("clips/bench/clip-1.mp4")  # warm-up: every code path loaded and allocated once
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runs, cpu = [], []
    for _ in range(RUNS):
        time.sleep(1.0)  # VK's per-token budget between video.save calls
        before_cpu = _cpu_seconds()
        before = len(httpx.get(f"{vk_url}/_emulator/state").json()["calls"])
        runs.append(upload(f"clips/bench/clip-{size_mb}.mp4"))
        cpu.append(_cpu_seconds() - before_cpu)
        calls = httpx.get(f"{vk_url}/_emulator/state").json()["calls"][before:]
        received = [c for c in calls if c["endpoint"] == "upload/video"]
        assert received[-1]["bytes"] == size_mb * MB, "the emulator did not receive the whole file"
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "seconds": statistics.median(runs),
        "cpu_seconds": statistics.median(cpu),
        "rss_growth_mb": (peak_kb - baseline_kb) / 1024,
    }
    print(json.dumps(result))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def curl(size_mb: int, vk_url: str) -> float:
    """The same multipart body, from a file on disk, sent by curl to a fresh upload URL."""
    import httpx

    token = httpx.post(f"{vk_url}/_emulator/token", json={}).json()["access_token"]
    saved = httpx.post(
        f"{vk_url}/method/video.save", data={"access_token": token, "v": "5.199", "name": "curl"}
    ).json()
    boundary = secrets.token_hex(16)
    data = block()
    with tempfile.NamedTemporaryFile(suffix=".body") as body:
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="video_file"; filename="c.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n".encode()
        )
        for _ in range(size_mb):
            body.write(data)
        body.write(f"\r\n--{boundary}--\r\n".encode())
        body.flush()
        out = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{time_total}",
                "--data-binary",
                f"@{body.name}",
                "-H",
                f"Content-Type: multipart/form-data; boundary={boundary}",
                saved["response"]["upload_url"],
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    return float(out.stdout)


def curl_from_s3(size_mb: int, vk_url: str, s3_url: str) -> float:
    """Like for like: curl streams the same S3 object from moto into the same multipart
    body to the emulator (`-T -`, chunked), so it pays moto's serving cost too."""
    import httpx

    token = httpx.post(f"{vk_url}/_emulator/token", json={}).json()["access_token"]
    saved = httpx.post(
        f"{vk_url}/method/video.save", data={"access_token": token, "v": "5.199", "name": "curl"}
    ).json()
    boundary = secrets.token_hex(16)
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="video_file"; filename="c.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
    tail = f"\r\n--{boundary}--\r\n"
    script = (
        f"(printf '%b' \"$HEAD\"; curl -s '{s3_url}/{BUCKET}/clips/bench/clip-{size_mb}.mp4'; printf '%b' \"$TAIL\") | "
        f"curl -s -o /dev/null -X POST -T - -H 'Content-Type: multipart/form-data; boundary={boundary}' "
        f"'{saved['response']['upload_url']}'"
    )
    started = time.perf_counter()
    subprocess.run(["bash", "-c", script], env={**os.environ, "HEAD": head, "TAIL": tail}, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,500")
    parser.add_argument("--put", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--vk", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.put:
        put_object(args.put)
        return
    if args.measure:
        measure(args.measure, args.vk)
        return
    sizes = [int(part) for part in args.sizes.split(",")]
    rows = []
    with servers() as (s3_url, vk_url):
        env = environment(s3_url, vk_url)
        script = [sys.executable, __file__]
        for size in [1, *sizes]:
            subprocess.run([*script, "--put", str(size)], env=env, check=True)
        for size in sizes:
            run = subprocess.run(
                [*script, "--measure", str(size), "--vk", vk_url],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            ours = json.loads(run.stdout.strip().splitlines()[-1])
            reference = statistics.median(curl(size, vk_url) for _ in range(RUNS))
            piped = statistics.median(curl_from_s3(size, vk_url, s3_url) for _ in range(RUNS))
            rows.append((size, ours["seconds"], ours["cpu_seconds"], ours["rss_growth_mb"], reference, piped))
    print(f"median of {RUNS} runs each; moto S3, the emulator and the upload share this machine's cores")
    columns = (
        "size",
        "seconds",
        "MB/s",
        "CPU s",
        "RSS +MB",
        "curl s",
        "curl MB/s",
        "vs curl",
        "curl S3 s",
        "vs curl S3",
    )
    widths = (6, 8, 7, 6, 8, 7, 9, 7, 9, 10)
    print(" ".join(f"{name:>{width}}" for name, width in zip(columns, widths, strict=True)))
    for size, seconds, cpu, growth, reference, piped in rows:
        print(
            f"{size:>4}MB {seconds:>8.2f} {size / seconds:>7.1f} {cpu:>6.2f} {growth:>8.1f} "
            f"{reference:>7.2f} {size / reference:>9.1f} {reference / seconds:>6.0%} {piped:>9.2f} {piped / seconds:>9.0%}"
        )
    print("curl: --data-binary of the body from a local file; curl S3: the same object streamed from moto S3")
    memory = all(row[3] < 64 for row in rows)
    speed = all(row[4] / row[1] >= 0.7 for row in rows)
    print(
        f"RSS growth < 64 MB: {'met' if memory else 'NOT met'}; >= 70% of curl --data-binary: {'met' if speed else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
