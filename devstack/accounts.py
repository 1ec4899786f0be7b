"""Users of a running local stack with all four platforms connected, as a user connects them,
and what the emulators ended up posting: for the load benchmark and the crash tests."""

from __future__ import annotations

import time
from collections import Counter

import httpx

from devstack import demo
from devstack.process import Running
from devstack.upload import put_clip

PLATFORMS = ("vk", "telegram", "rutube", "dzen")
REFUSED_BY_RUTUBE = {"download_error", "blocked"}


def connect_everywhere(
    stack: Running, user: str, number: int, clip: bytes, clip_id: str = "clip", vk_session: bool = False
) -> None:
    """A ready clip, and the user's own VK, Telegram channel, Rutube and Дзен accounts
    (`number` makes their platform ids distinct); VK through VK ID, or with `vk_session`
    through the signed-in session (clips)."""
    put_clip(stack.info, user, clip_id, clip)
    api = stack.api(user)
    telegram, name = stack.emulator("telegram"), user.replace("-", "_")
    bot = httpx.post(f"{telegram}/_emulator/bot", json={"username": f"{name}_bot"}).json()["token"]
    httpx.post(f"{telegram}/_emulator/channel", json={"username": f"{name}_ch", "admin_bots": [bot]})
    rutube = httpx.post(f"{stack.emulator('rutube')}/_emulator/token", json={"user_id": 10_000 + number})
    dzen = httpx.post(
        f"{stack.emulator('dzen')}/_emulator/session",
        json={"publisher_id": f"publisher{number}", "name": f"Канал {number}"},
    )
    answers = [
        api.post("/connections/telegram", json={"channel": f"@{name}_ch", "botToken": bot}),
        demo.connect_vk_session(api, stack.emulator("vk"), 20_000 + number)
        if vk_session
        else demo.connect_vk(api, vk_user=20_000 + number),
        api.post("/connections/rutube", json={"token": rutube.json()["token"]}),
        api.post("/connections/dzen", json={"session": dzen.json()["cookies"]}),
    ]
    for answer in answers:
        if answer.status_code != 201:
            path = answer.request.url.path
            raise RuntimeError(f"{user}: {path} answered {answer.status_code}: {answer.text}")
    deadline = time.monotonic() + 60
    while api.get(f"/clips/{clip_id}").json().get("status") != "ready":
        if time.monotonic() > deadline:
            raise RuntimeError(f"{user}'s clip was not validated in 60 s")
        time.sleep(0.3)


def posts_by_title(stack: Running) -> Counter[tuple[str, str]]:
    """Posts at the emulators by (platform, title): what a viewer would see. A VK clip counts
    once published, a regular VK video once it has its file, a Rutube video once its import
    is accepted (it goes public by itself unless Rutube refuses it), a Дзен video once
    published, a Telegram message as sent."""
    counts: Counter[tuple[str, str]] = Counter()

    def state(name: str) -> dict:
        return httpx.get(f"{stack.emulator(name)}/_emulator/state", timeout=60).json()

    for video in state("vk")["videos"]:
        if video["published"] or (video["type"] == "video" and video["uploaded"]):
            counts[("vk", video["title"] or video["description"])] += 1
    for message in state("telegram")["messages"]:
        counts[("telegram", message["caption"])] += 1
    for video in state("rutube")["videos"]:
        if video["reason"] not in REFUSED_BY_RUTUBE:
            counts[("rutube", video["title"])] += 1
    for video in state("dzen")["videos"]:
        if video["published"]:
            counts[("dzen", video["title"])] += 1
    return counts
