"""VK clips through the signed-in session, on the local stack: connected from the cookies a
user copies (only VK's session cookies kept), a clip published as a clip, and the worker's
process killed in the middle of the upload: the next attempt sends the file again to the
same clip under the same upload session, and VK holds one clip."""

from __future__ import annotations

import time

import httpx

from devstack.accounts import connect_everywhere
from devstack.process import running, wait_until
from devstack.videos import make_video

OPTIONS = (
    # A killed attempt's hold lapses with its Lambda's deadline; the state machine tries again.
    "--worker-timeout",
    "20",
    "--task-timeout",
    "30",
    "--connect-limit",
    "100",
    "--stats-interval",
    "3600",
)
UPLOAD_STALL = 4  # seconds VK's upload server sits on the first upload before reading it


def vk_state(stack) -> dict:
    return httpx.get(f"{stack.emulator('vk')}/_emulator/state").json()


def test_a_session_clip_survives_its_worker_killed_mid_upload_as_one_clip(tmp_path):
    clip = make_video("mp4", seconds=2, width=90, height=160)
    with running(tmp_path, *OPTIONS) as stack:
        connect_everywhere(stack, "clipper", 0, clip, vk_session=True)
        api = stack.api("clipper")
        connection = next(c for c in api.get("/connections").json()["items"] if c["platform"] == "vk")
        assert connection["method"] == "session"
        httpx.post(
            f"{stack.emulator('vk')}/_emulator/faults",
            json={"endpoint": "upload/clip", "kind": "slow", "delay": UPLOAD_STALL},
        )
        answer = api.post("/clips/clip/publications", json={"platforms": ["vk"], "title": "clip killed"})
        assert answer.status_code == 201, answer.text
        (publication,) = answer.json()["items"]

        wait_until(
            lambda: any(c["endpoint"] == "upload/clip" for c in vk_state(stack)["calls"]),
            60,
            "the upload to begin",
        )
        time.sleep(0.5)  # inside the stalled upload
        killed = httpx.post(
            f"{stack.info['api']}/local/kill-busy", json={"function": "PublishWorkerFunction"}
        )
        assert killed.json()["killed"] >= 1

        wait_until(
            lambda: api.get(f"/publications/{publication['id']}").json()["status"] in ("published", "failed"),
            180,
            "the publication final",
        )
        final = api.get(f"/publications/{publication['id']}").json()
        state = vk_state(stack)

    assert final["status"] == "published", final.get("error")
    assert final["publishedAs"] == "clip"
    clips = [v for v in state["videos"] if v["type"] == "short_video"]
    assert len(clips) == 1 and clips[0]["published"], clips
    assert final["post"]["url"] == f"https://vk.com/clip{clips[0]['owner_id']}_{clips[0]['video_id']}"
    calls = [c["endpoint"] for c in state["calls"]]
    assert calls.count("shortVideo.create") == 1
    assert calls.count("shortVideo.publish") == 1
    minted = [c for c in state["calls"] if c["endpoint"] == "web_token"]
    # Only the session's cookie went to VK, from the API's check and each worker that called.
    assert all(c["cookies"] == ["remixnsid"] for c in minted) and len(minted) >= 2
