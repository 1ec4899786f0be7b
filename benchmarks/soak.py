"""Soak on the local stack: publishing, token refreshes, key rotations and reconnects, all at
once, for half an hour; then every connection must still publish, every publication be
final, and every publication have exactly one post.

    .venv/bin/python benchmarks/soak.py                      # 30 minutes, 12 users
    .venv/bin/python benchmarks/soak.py --minutes 5 --users 4

Its own local stack (a 60 s upload task timeout, so backlogs outlast it; the token key read
from its Secrets Manager secret, cached 20 s) and, side by side:
- publishers: a publication every couple of seconds, a random user, one to four platforms,
  each with a title of its own (`repost`: the same clip again is a choice, made here);
- refreshes: VK ID's access tokens live 60 s here (VK says an hour), so every VK connection
  refreshes again and again, in the worker and the stats sync (its refresh tokens are
  single use: a refresh lost to a race is a user sent to reconnect);
- rotations: every few minutes a new token key (`put-secret-value`), then the rotation
  command until it reports finished (the next key only after that);
- reconnects: every half minute a user connects VK again through the consent page.
Then a last round publishes once more from every user to all four platforms. It prints its
figures and exits 1 on any lost token (a connection that no longer publishes), lost, failed
or doubled publication, or a publication that says failed while its post is out.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx

from devstack.accounts import PLATFORMS, connect_everywhere, posts_by_title
from devstack.demo import connect_vk
from devstack.process import Running, running, wait_until
from devstack.upload import put_clip
from devstack.videos import make_video

FINAL = {"published", "failed", "cancelled"}


class Soak:
    def __init__(self, stack: Running, users: list[str], until: float) -> None:
        self.stack, self.users, self.until = stack, users, until
        self.created: dict[str, tuple[str, str, str]] = {}  # id -> (user, platform, title)
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.serial = 0

    def every(self, seconds: float, name: str, step: Callable[[], None]) -> threading.Thread:
        def loop() -> None:
            while time.monotonic() < self.until:
                try:
                    step()
                    with self.lock:
                        self.counts[name] += 1
                except Exception as exc:  # noqa: BLE001 - a soak reports, it does not stop
                    with self.lock:
                        self.errors.append(f"{name}: {exc!r}")
                time.sleep(seconds * random.uniform(0.5, 1.5))  # noqa: S311 - jitter

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        return thread

    def publish(self, user: str, platforms: list[str], clip: str = "clip") -> None:
        with self.lock:
            self.serial += 1
            title = f"soak {self.serial:05d}"
        answer = self.stack.api(user).post(
            f"/clips/{clip}/publications", json={"platforms": platforms, "title": title, "repost": True}
        )
        if answer.status_code in (409, 429):
            # The user's budget, or this clip still publishing there: what a user would meet.
            with self.lock:
                self.counts[f"publish refused ({answer.status_code})"] += 1
            return
        if answer.status_code != 201:
            raise RuntimeError(f"publish answered {answer.status_code}: {answer.text[:200]}")
        with self.lock:
            for item in answer.json()["items"]:
                self.created[item["id"]] = (user, item["platform"], title)

    def random_publication(self) -> None:
        platforms = random.sample(PLATFORMS, random.randint(1, len(PLATFORMS)))  # noqa: S311
        clip = random.choice(CLIPS)  # noqa: S311
        self.publish(random.choice(self.users), platforms, clip)  # noqa: S311

    def reconnect(self) -> None:
        answer = connect_vk(self.stack.api(random.choice(self.users)))  # noqa: S311
        if answer.status_code != 201:
            raise RuntimeError(f"reconnect answered {answer.status_code}: {answer.text[:200]}")

    def statuses(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for user in self.users:
            cursor = None
            while True:
                params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                page = self.stack.api(user).get("/publications", params=params).json()
                found.update({p["id"]: p for p in page["items"]})
                cursor = page.get("nextCursor")
                if not cursor:
                    break
        return found


def connect_everywhere_clip(stack: Running, user: str, clip_id: str, data: bytes) -> None:
    """Another ready clip of the user's."""
    put_clip(stack.info, user, clip_id, data)
    api = stack.api(user)
    wait_until(lambda: api.get(f"/clips/{clip_id}").json().get("status") == "ready", 60, f"{clip_id} ready")


class Rotator:
    """A new token key, then the rotation command until it reports finished: the stack's own
    secret and tables, as an operator would run it."""

    def __init__(self, stack: Running) -> None:
        environment = stack.info["environment"]
        self.arn = environment["PLATFORM_TOKEN_SECRET_ARN"]
        os.environ.update({**environment, "AWS_ENDPOINT_URL": stack.info["s3"], "SECRETS_CACHE_SECONDS": "0"})
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(name, "local")
        os.environ.pop("PLATFORM_TOKEN_SECRET", None)
        self.secrets = boto3.client(
            "secretsmanager", endpoint_url=stack.info["s3"], region_name=stack.info["region"]
        )
        self.reports: list[dict[str, Any]] = []

    def rotate(self) -> None:
        from autopost.infra import runtime
        from autopost.infra.secrets import token_cipher
        from autopost.infra.settings import get_settings
        from autopost.maintenance.rotation import Rotation

        self.secrets.put_secret_value(SecretId=self.arn, SecretString=secrets.token_urlsafe(48))
        time.sleep(CACHE_SECONDS + 5)  # every warm function has the new key by now
        runtime.reset()
        for _ in range(5):
            report = Rotation(get_settings(), token_cipher()).run()
            if report.finished:
                self.reports.append(report.__dict__)
                return
        raise RuntimeError(f"rotation did not finish: {report.__dict__}")


CACHE_SECONDS = 20
TOKEN_SECONDS = 60
CLIPS = ("clip", "clip-2", "clip-3", "clip-4")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--users", type=int, default=12)
    args = parser.parse_args()
    users = [f"soak-{index:02d}" for index in range(args.users)]
    clip = make_video("mp4", seconds=2, width=90, height=160)
    options = ("--connect-limit", "10000", "--task-timeout", "60", "--retry-delays", "5,10,20")
    environment = {"SECRETS_CACHE_SECONDS": str(CACHE_SECONDS)}
    with (
        tempfile.TemporaryDirectory() as folder,
        running(Path(folder), *options, environment=environment) as stack,
    ):
        httpx.post(
            f"{stack.emulator('vk')}/_emulator/token-lifetime", json={"seconds": TOKEN_SECONDS}
        ).raise_for_status()
        for number, user in enumerate(users):
            connect_everywhere(stack, user, number, clip)
            for extra in CLIPS[1:]:
                connect_everywhere_clip(stack, user, extra, clip)
        began = time.monotonic()
        soak = Soak(stack, users, began + args.minutes * 60)
        rotator = Rotator(stack)
        threads = [
            soak.every(2, "publications", soak.random_publication),
            soak.every(2, "publications", soak.random_publication),
            soak.every(30, "reconnects", soak.reconnect),
            soak.every(180, "rotations", rotator.rotate),
        ]
        reported = began
        while time.monotonic() < soak.until:
            time.sleep(10)
            if time.monotonic() - reported >= 120:
                reported = time.monotonic()
                print(
                    f"  {reported - began:.0f} s: {dict(soak.counts)}; errors {len(soak.errors)}", flush=True
                )
        for thread in threads:
            thread.join()
        # Every connection still publishes: one more to all four platforms from every user.
        final_round = len(soak.created)
        for user in users:
            soak.publish(user, list(PLATFORMS))
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            found = soak.statuses()
            if all(found.get(pid, {}).get("status") in FINAL for pid in soak.created):
                break
            time.sleep(10)
        found = soak.statuses()
        posts = posts_by_title(stack)
        calls = httpx.get(f"{stack.emulator('vk')}/_emulator/state", timeout=120).json()["calls"]
        refreshes = sum(
            1 for c in calls if c["endpoint"] == "oauth2/auth" and c.get("grant_type") == "refresh_token"
        )

    outcome = Counter(found[pid]["status"] if pid in found else "lost" for pid in soak.created)
    doubled = sum(1 for (_, platform, title) in soak.created.values() if posts.get((platform, title), 0) > 1)
    failed_posted = [
        pid
        for pid, (_, platform, title) in soak.created.items()
        if found.get(pid, {}).get("status") == "failed" and posts.get((platform, title), 0)
    ]
    unposted = [
        pid
        for pid, (_, platform, title) in soak.created.items()
        if found.get(pid, {}).get("status") == "published" and not posts.get((platform, title), 0)
    ]
    last = [pid for pid in list(soak.created)[final_round:]]
    unusable = [pid for pid in last if found.get(pid, {}).get("status") != "published"]
    failures = Counter(
        (found[pid]["platform"], (found[pid].get("error") or {}).get("code"))
        for pid in soak.created
        if found.get(pid, {}).get("status") == "failed"
    )
    print(f"soak: {args.minutes:.0f} min, {args.users} users; {dict(soak.counts)}; VK refreshes {refreshes}")
    print(
        f"rotations finished: {len(rotator.reports)}; rotated rows: {[r['rotated'] for r in rotator.reports]}"
    )
    print(
        f"publications {len(soak.created)}: {dict(outcome)}; failed by (platform, code): {dict(failures)}; "
        f"doubled {doubled}; failed but posted {len(failed_posted)}; published without a post {len(unposted)}"
    )
    print(
        f"last round (every user, all four platforms): {len(last) - len(unusable)} of {len(last)} published"
    )
    print(f"errors in the soak's own calls: {len(soak.errors)}")
    for error in soak.errors[:10]:
        print(f"  {error}")
    lost_tokens = sum(n for (_, code), n in failures.items() if code == "TokenExpired")
    print(f"lost tokens (a publication failed as TokenExpired): {lost_tokens}")
    if outcome["lost"] or lost_tokens or doubled or failed_posted or unposted or unusable:
        sys.exit(1)


if __name__ == "__main__":
    main()
