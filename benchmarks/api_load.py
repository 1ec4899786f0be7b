"""Load on the local stack: how fast the API accepts publications, and whether every one of a
thousand ends final with exactly one post.

    .venv/bin/python benchmarks/api_load.py                 # 250 users × 4 platforms = 1,000
    .venv/bin/python benchmarks/api_load.py --users 50 --clients 8
    # a burst that outlasts a short task timeout (uploads still running or still queued
    # when the state machine's task times out):
    .venv/bin/python benchmarks/api_load.py --users 200 --platforms vk,telegram --task-timeout 90

It starts its own local stack, makes each user a clip and connects them to VK, Telegram,
Rutube and Дзен (the emulators' accounts, one per user), then N concurrent clients send one
publish request per user (all four platforms). It prints accepted publications a second,
p50/p95 latency and errors; then waits until every publication is final and counts
published, failed, lost (never final), duplicate posts at the emulators (a post is found
by the publication's unique title) and publications that say failed while their post is out.
It exits 1 on any lost, duplicate, failed-but-posted or published-without-a-post.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from devstack.accounts import PLATFORMS, connect_everywhere, posts_by_title
from devstack.process import Running, running
from devstack.videos import make_video

FINAL = {"published", "failed", "cancelled"}


def publish(stack: Running, user: str, platforms: list[str]) -> tuple[float, int, list[str]]:
    api = stack.api(user)
    began = time.perf_counter()
    answer = api.post(
        "/clips/clip/publications",
        json={"platforms": platforms, "title": f"load {user}"},
        headers={"Idempotency-Key": f"load-{user}"},
    )
    seconds = time.perf_counter() - began
    ids = [p["id"] for p in answer.json().get("items", [])] if answer.status_code == 201 else []
    return seconds, answer.status_code, ids


def statuses(stack: Running, users: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for user in users:
        for item in stack.api(user).get("/publications", params={"limit": 100}).json()["items"]:
            found[item["id"]] = item
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=250)
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for all to be final")
    parser.add_argument("--platforms", default=",".join(PLATFORMS), help="where each user publishes")
    parser.add_argument(
        "--task-timeout", type=int, default=1800, help="the state machine's upload task timeout"
    )
    args = parser.parse_args()
    platforms = [p for p in args.platforms.split(",") if p]
    users = [f"load-{index:04d}" for index in range(args.users)]
    clip = make_video("mp4", seconds=2, width=90, height=160)
    with (
        tempfile.TemporaryDirectory() as folder,
        running(
            Path(folder),
            "--connect-limit",
            "1000",
            "--task-timeout",
            str(args.task_timeout),
            "--stats-interval",
            "3600",
        ) as stack,
    ):
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            list(pool.map(lambda pair: connect_everywhere(stack, pair[1], pair[0], clip), enumerate(users)))
        print(f"set up {len(users)} users (clip + 4 connections each) in {time.monotonic() - began:.0f} s")

        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            results = list(pool.map(lambda user: publish(stack, user, platforms), users))
        elapsed = time.monotonic() - began
        latencies = sorted(seconds for seconds, _, _ in results)
        errors = Counter(status for _, status, _ in results if status != 201)
        ids = [i for _, _, created in results for i in created]
        print(
            f"API: {len(ids)} publications accepted in {elapsed:.1f} s = {len(ids) / elapsed:.1f}/s "
            f"({args.clients} clients); latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms; errors {dict(errors) or 0}"
        )

        deadline = time.monotonic() + args.timeout
        final: dict[str, dict[str, Any]] = {}
        reported = time.monotonic()
        while time.monotonic() < deadline:
            found = statuses(stack, users)
            final = {i: p for i, p in found.items() if p["status"] in FINAL}
            if len(final) == len(ids):
                break
            if time.monotonic() - reported >= 60:
                reported = time.monotonic()
                counts = dict(Counter(p["status"] for p in found.values()))
                print(f"  after {reported - began:.0f} s: {counts}", flush=True)
            time.sleep(10)
        until = time.monotonic() - began
        outcome = Counter(p["status"] for p in final.values())
        lost = len(ids) - len(final)
        posts = posts_by_title(stack)
        duplicates = {key: n for key, n in posts.items() if n > 1}
        published_titles = Counter(
            (p["platform"], p["title"]) for p in final.values() if p["status"] == "published"
        )
        missing = [key for key in published_titles if posts.get(key, 0) == 0]
        failed_but_posted = [
            p for p in final.values() if p["status"] == "failed" and posts.get((p["platform"], p["title"]), 0)
        ]
        print(
            f"all final after {until:.0f} s: published {outcome['published']}, failed {outcome['failed']}, "
            f"lost {lost}; duplicate posts {sum(n - 1 for n in duplicates.values())}; "
            f"published without a post {len(missing)}; failed but posted {len(failed_but_posted)}"
        )
        for code, count in Counter(
            (p.get("error") or {}).get("code") for p in final.values() if p["status"] == "failed"
        ).items():
            print(f"  failed with {code}: {count}")
        for platform in platforms:
            count = sum(1 for p in final.values() if p["platform"] == platform and p["status"] == "published")
            print(
                f"  {platform:<9} published {count}, posts {sum(n for (pf, _), n in posts.items() if pf == platform)}"
            )
        # Each publication's history (the table's stream → publication_events) ends with the
        # event of its final status: nothing the stream carried was lost under this load.
        told_at = time.monotonic()
        pending = {i: p for i, p in final.items()}
        while pending and time.monotonic() - told_at < 600:
            for publication_id, publication in list(pending.items()):
                owner = stack.api(publication["title"].removeprefix("load "))  # titled after its user
                events = owner.get(f"/publications/{publication_id}/events").json().get("items", [])
                if events and events[-1]["type"] == f"publication.{publication['status']}":
                    del pending[publication_id]
            if pending:
                time.sleep(5)
        print(
            f"history complete for {len(final) - len(pending)} of {len(final)} "
            f"{time.monotonic() - told_at:.0f} s after the last became final"
        )
        if lost or duplicates or missing or pending or failed_but_posted:
            sys.exit(1)


if __name__ == "__main__":
    main()
