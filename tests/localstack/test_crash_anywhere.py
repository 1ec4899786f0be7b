"""Crash anywhere, post once. On a local stack whose publish worker is killed (its process,
as a crashed Lambda is) at random moments of its calls, at most twice a publication, every
publication still ends published, with exactly one post on VK, Rutube and Дзен: their ids
are recorded before the file goes, and a later attempt resumes or adopts what the killed one
made. Telegram's Bot API has no idempotency key: a kill between its answer and our record of
it posts twice. This test counts how often that happened (README, "Exactly once")."""

from __future__ import annotations

import re
from collections import Counter

from devstack.accounts import PLATFORMS, connect_everywhere, posts_by_title
from devstack.process import running, wait_until
from devstack.videos import make_video

USERS = 4
CHAOS = (
    "--chaos-kill-rate",
    "0.7",
    "--chaos-max-kills",
    "2",
    # A killed attempt's hold on its upload lapses with its Lambda's deadline; the state
    # machine gives up waiting for it a little later (the wait in the queue counts too) and
    # tries again.
    "--worker-timeout",
    "20",
    "--task-timeout",
    "30",
    "--connect-limit",
    "100",
    "--stats-interval",
    "3600",
)


def test_killed_workers_post_once_on_vk_rutube_and_dzen(tmp_path):
    clip = make_video("mp4", seconds=2, width=90, height=160)
    with running(tmp_path, *CHAOS) as stack:
        users = [f"crash-{number}" for number in range(USERS)]
        for number, user in enumerate(users):
            connect_everywhere(stack, user, number, clip)
        created: dict[str, dict] = {}
        for user in users:
            answer = stack.api(user).post(
                "/clips/clip/publications", json={"platforms": list(PLATFORMS), "title": f"crash {user}"}
            )
            assert answer.status_code == 201, answer.text
            created.update({p["id"]: {**p, "user": user} for p in answer.json()["items"]})

        def now() -> dict[str, dict]:
            return {
                pid: stack.api(p["user"]).get(f"/publications/{pid}").json() for pid, p in created.items()
            }

        wait_until(
            lambda: all(p["status"] in ("published", "failed") for p in now().values()),
            300,
            "every publication final",
        )
        final = now()
        log = (tmp_path / "stack.log").read_text()
        kills = Counter(re.findall(r"chaos: killed an environment working on (\S+)", log))
        posts = posts_by_title(stack)

    # The faults happened, and many times: not a run where chaos found nothing to kill.
    assert sum(kills.values()) >= USERS, kills
    assert set(kills) <= set(created)
    failed = {pid: p.get("error") for pid, p in final.items() if p["status"] != "published"}
    assert not failed, failed
    for p in final.values():
        key = (p["platform"], p["title"])
        if p["platform"] == "telegram":
            assert posts[key] >= 1, key  # never lost
        else:
            assert posts[key] == 1, (key, posts[key], kills.get(p["id"]))
    telegram = [p for p in final.values() if p["platform"] == "telegram"]
    doubled = sum(posts[("telegram", p["title"])] - 1 for p in telegram)
    killed = sum(kills.get(p["id"], 0) for p in telegram)
    # The measurement the README reports (run with -s to see it).
    print(f"\ncrash test: {sum(kills.values())} kills; Telegram: {killed} kills, {doubled} double posts")
