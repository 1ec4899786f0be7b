"""`python -m devstack.demo` (make demo), against a running `make dev`: upload a clip it
makes, connect Telegram and VK on the emulators, publish one clip now and one in 30
seconds, and print the publications until they are published."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import httpx

from devstack import tokens
from devstack.upload import put_clip, running_stack, verdict
from devstack.videos import make_video

USER = "demo-user"


def main() -> int:
    info = running_stack()
    api = httpx.Client(
        base_url=info["api"], headers={"Authorization": f"Bearer {tokens.mint(USER, 'pro')}"}, timeout=30
    )
    suffix = datetime.now(UTC).strftime("%H%M%S")
    clips = [f"demo-now-{suffix}", f"demo-later-{suffix}"]

    for clip in clips:
        print(f"uploaded {put_clip(info, USER, clip, make_video('mp4', seconds=3))}")
    for clip in clips:
        if verdict(info, USER, clip)["status"] != "ready":
            raise SystemExit(f"clip {clip} did not pass validation")
        print(f"clip {clip} validated")

    telegram = info["emulators"]["telegram"]
    bot = httpx.post(f"{telegram}/_emulator/bot", json={"username": "demo_bot"}).json()["token"]
    channel = f"demo_{suffix}"
    httpx.post(
        f"{telegram}/_emulator/channel",
        json={"username": channel, "title": "Демо-канал", "admin_bots": [bot]},
    )
    show(
        "Telegram connected",
        api.post("/connections/telegram", json={"channel": f"@{channel}", "botToken": bot}),
    )

    show("VK connected", connect_vk(api))

    now = api.post(
        f"/clips/{clips[0]}/publications", json={"platforms": ["vk", "telegram"], "title": "Демо: сейчас"}
    )
    later_at = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    later = api.post(
        f"/clips/{clips[1]}/publications",
        json={"platforms": ["vk", "telegram"], "title": "Демо: через 30 с", "scheduledAt": later_at},
    )
    ids = [p["id"] for response in (now, later) for p in response.json()["items"]]
    print(
        f"published now: {len(now.json()['items'])}, scheduled for {later_at}: {len(later.json()['items'])}"
    )

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        rows = [api.get(f"/publications/{pid}").json() for pid in ids]
        print(" | ".join(f"{r['platform']}:{r['clipId'][5:9]}:{r['status']}" for r in rows), flush=True)
        if all(r["status"] in ("published", "failed", "cancelled") for r in rows):
            for r in rows:
                where = (r.get("post") or {}).get("url") or (r.get("error") or {}).get("message")
                print(f"  {r['platform']:<9} {r['status']:<10} {where}")
            return 0 if all(r["status"] == "published" for r in rows) else 1
        time.sleep(3)
    print("not all published within 3 minutes", file=sys.stderr)
    return 1


def connect_vk(api: httpx.Client, vk_user: int | None = None) -> httpx.Response:
    """What the console does: start VK's authorization, the user presses «Разрешить» on
    VK's page (signed in to VK as `vk_user`, the emulator's default user if None), VK sends
    the browser back to the console, which completes with the code."""
    authorize = api.post("/connections/vk/authorize").json()["authorizeUrl"]
    approve = authorize.replace("/authorize?", "/authorize/approve?")
    consent = httpx.get(approve + (f"&user_id={vk_user}" if vk_user is not None else ""))
    returned = httpx.URL(consent.headers["location"])
    back = dict(httpx.QueryParams(returned.fragment)) or dict(returned.params)
    body: dict[str, str | int | None] = {
        "state": back["state"],
        "code": back.get("code"),
        "deviceId": back.get("device_id"),
    }
    if "access_token" in back:
        body = {
            "state": back["state"],
            "accessToken": back["access_token"],
            "expiresIn": int(back["expires_in"]),
        }
    return api.post("/connections/vk/complete", json={k: v for k, v in body.items() if v is not None})


def connect_vk_session(api: httpx.Client, vk: str, vk_user: int) -> httpx.Response:
    """What the console does with the Cookie header the user copied from vkvideo.ru, signed
    in to VK as `vk_user` (here the emulator makes that session)."""
    cookies = httpx.post(f"{vk}/_emulator/session", json={"user_id": vk_user}).json()["cookies"]
    return api.post("/connections/vk/session", json={"session": cookies})


def wait(check, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)
    print(what)


def show(what: str, response: httpx.Response) -> None:
    if response.is_error:
        raise SystemExit(f"{what} failed: {response.status_code} {response.text}")
    print(what)


if __name__ == "__main__":
    sys.exit(main())
