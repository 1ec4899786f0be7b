"""Our own slowness is never the platform's fault, and never costs a post: on a local stack
whose upload task times out after a few seconds, an attempt still uploading when the task
times out, and messages still waiting in our queue when theirs do, all end published, each
with exactly one post, and no history says the platform did not answer."""

from __future__ import annotations

import httpx

from devstack.accounts import connect_everywhere, posts_by_title
from devstack.process import running, wait_until
from devstack.videos import make_video

TASK_TIMEOUT = 6
OPTIONS = (
    "--task-timeout",
    str(TASK_TIMEOUT),
    "--retry-delays",
    "1,1,1",
    "--connect-limit",
    "100",
    "--stats-interval",
    "3600",
)
# Telegram's two workers at 5 s a post: the last of twelve waits ~30 s in the queue, past
# four task timeouts (with 1 s retry delays: what used to fail a publication for good).
QUEUED = 12
POST_SECONDS = 5


def fault(stack, platform, endpoint, **options):
    answer = httpx.post(
        f"{stack.emulator(platform)}/_emulator/faults", json={"endpoint": endpoint, **options}
    )
    assert answer.status_code < 300, answer.text


def settle(stack, created):
    def now():
        return {pid: stack.api(user).get(f"/publications/{pid}").json() for pid, user in created.items()}

    wait_until(lambda: all(p["status"] in ("published", "failed") for p in now().values()), 240, "all final")
    return now()


def history(stack, user, publication_id):
    return stack.api(user).get(f"/publications/{publication_id}/events").json()["items"]


def test_late_attempts_and_queued_messages_end_published_once(tmp_path):
    clip = make_video("mp4", seconds=2, width=90, height=160)
    with running(tmp_path, *OPTIONS) as stack:
        created: dict[str, str] = {}
        # VK: the upload itself outlives four task timeouts (the file takes 5 x its time).
        connect_everywhere(stack, "slow-upload", 0, clip)
        fault(stack, "vk", "upload/video", kind="slow", delay=TASK_TIMEOUT * 5)
        answer = stack.api("slow-upload").post(
            "/clips/clip/publications", json={"platforms": ["vk"], "title": "late vk"}
        )
        assert answer.status_code == 201, answer.text
        created[answer.json()["items"][0]["id"]] = "slow-upload"
        # Telegram: twelve posts at once through two workers, each post slow: the later
        # messages wait in our queue past their tasks' timeouts.
        for number in range(QUEUED):
            connect_everywhere(stack, f"queued-{number}", number + 1, clip)
        fault(stack, "telegram", "sendVideo", kind="slow", delay=POST_SECONDS, times=QUEUED)
        for number in range(QUEUED):
            user = f"queued-{number}"
            answer = stack.api(user).post(
                "/clips/clip/publications", json={"platforms": ["telegram"], "title": f"queued {number}"}
            )
            assert answer.status_code == 201, answer.text
            created[answer.json()["items"][0]["id"]] = user

        final = settle(stack, created)
        posts = posts_by_title(stack)
        stories = {pid: [e["type"] for e in history(stack, user, pid)] for pid, user in created.items()}

    failed = {pid: p.get("error") for pid, p in final.items() if p["status"] != "published"}
    assert not failed, failed
    for p in final.values():
        assert posts[(p["platform"], p["title"])] == 1, (p["platform"], p["title"])
    for pid, story in stories.items():
        assert "publication.failed" not in story, (pid, story)
        assert "publication.attempt_failed" not in story, (pid, story)
        assert story[-1] == "publication.published", (pid, story)
