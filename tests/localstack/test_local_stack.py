"""The whole system on one machine, through its public surfaces only."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from devstack import demo
from tests.support.local_stack import start, wait_until

FINAL = ("published", "failed", "cancelled")


def connect_telegram(stack, api, channel):
    telegram = stack.emulator("telegram")
    bot = httpx.post(f"{telegram}/_emulator/bot", json={"username": f"{channel}_bot"}).json()["token"]
    httpx.post(
        f"{telegram}/_emulator/channel", json={"username": channel, "title": "Канал", "admin_bots": [bot]}
    )
    response = api.post("/connections/telegram", json={"channel": f"@{channel}", "botToken": bot})
    assert response.status_code == 201, response.text


def connect_vk(api):
    """As the console does: the emulator's consent page, VK's redirect back to the console,
    and the console completing with the user's token."""
    response = demo.connect_vk(api)
    assert response.status_code == 201, response.text
    return response.json()


def publications(api, ids):
    return {pid: api.get(f"/publications/{pid}").json() for pid in ids}


def test_the_stack_starts_quickly_and_serves_its_surfaces(local_stack):
    assert local_stack.ready_seconds < 30
    assert httpx.get(f"{local_stack.info['api']}/openapi.json").status_code == 200
    assert httpx.get(f"{local_stack.info['api']}/publications").status_code == 401  # the JWT authorizer
    assert (
        httpx.get(
            f"{local_stack.info['api']}/publications", headers={"Authorization": "Bearer forged"}
        ).status_code
        == 401
    )


def test_upload_validate_publish_to_two_platforms(local_stack):
    user, api = "ls-user-1", local_stack.api("ls-user-1")
    local_stack.upload_ready_clip(user, "clip-a")
    connect_telegram(local_stack, api, "ls_channel_1")
    assert connect_vk(api)["status"] == "active"

    response = api.post(
        "/clips/clip-a/publications", json={"platforms": ["vk", "telegram"], "title": "Локально"}
    )
    assert response.status_code == 201
    ids = [p["id"] for p in response.json()["items"]]
    wait_until(
        lambda: all(p["status"] in FINAL for p in publications(api, ids).values()), 60, "both published"
    )

    assert {p["status"] for p in publications(api, ids).values()} == {"published"}
    messages = httpx.get(f"{local_stack.emulator('telegram')}/_emulator/state").json()["messages"]
    assert [m["caption"] for m in messages if m["caption"] == "Локально"] == ["Локально"]


def test_schedule_then_cancel(local_stack):
    user, api = "ls-user-2", local_stack.api("ls-user-2")
    local_stack.upload_ready_clip(user, "clip-b")
    connect_telegram(local_stack, api, "ls_channel_2")
    at = (datetime.now(UTC) + timedelta(seconds=20)).isoformat()
    (publication,) = api.post(
        "/clips/clip-b/publications", json={"platforms": ["telegram"], "title": "t", "scheduledAt": at}
    ).json()["items"]
    assert api.post(f"/publications/{publication['id']}/cancel").json()["status"] == "cancelled"
    assert api.get(f"/publications/{publication['id']}").json()["status"] == "cancelled"


def test_disconnect_cancels_scheduled(local_stack):
    user, api = "ls-user-3", local_stack.api("ls-user-3")
    local_stack.upload_ready_clip(user, "clip-c")
    connect_telegram(local_stack, api, "ls_channel_3")
    at = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    (publication,) = api.post(
        "/clips/clip-c/publications", json={"platforms": ["telegram"], "title": "t", "scheduledAt": at}
    ).json()["items"]
    assert api.delete("/connections/telegram").json()["cancelledPublications"] == 1
    assert api.get(f"/publications/{publication['id']}").json()["status"] == "cancelled"


def test_a_platform_down_is_retried_then_failed(local_stack):
    user, api = "ls-user-4", local_stack.api("ls-user-4")
    local_stack.upload_ready_clip(user, "clip-d")
    connect_vk(api)
    httpx.post(
        f"{local_stack.emulator('vk')}/_emulator/faults",
        json={"endpoint": "video.save", "kind": "http_500", "times": 4},
    )
    (publication,) = api.post("/clips/clip-d/publications", json={"platforms": ["vk"], "title": "t"}).json()[
        "items"
    ]
    wait_until(lambda: api.get(f"/publications/{publication['id']}").json()["status"] in FINAL, 60, "failed")
    failed = api.get(f"/publications/{publication['id']}").json()
    assert failed["status"] == "failed"
    assert failed["error"]["message"] == "VK временно недоступен"


def test_oauth_completes_only_for_the_user_who_started_it_on_the_local_stack(local_stack):
    attacker, victim = local_stack.api("ls-user-5"), local_stack.api("ls-user-5b")
    url = attacker.post("/connections/vk/authorize").json()["authorizeUrl"]
    consent = httpx.get(url.replace("/authorize?", "/authorize/approve?"))
    returned = parse_qs(urlsplit(consent.headers["location"]).query)
    body = {"state": returned["state"][0], "code": returned["code"][0], "deviceId": returned["device_id"][0]}
    assert victim.post("/connections/vk/complete", json=body).status_code == 400
    assert attacker.post("/connections/vk/complete", json=body).status_code == 201
    assert attacker.post("/connections/vk/complete", json=body).status_code == 400  # single use


def test_starting_twice_says_the_port_is_taken(local_stack, tmp_path):
    second = start(tmp_path / "second.json", *local_stack.ports)
    _, errors = second.communicate(timeout=60)
    assert second.returncode == 2
    assert "is taken" in errors
    assert "already running" in errors


def test_make_token_prints_a_token_the_stack_accepts(local_stack):
    token = subprocess.run(
        [sys.executable, "-m", "devstack", "token", "--user", "ls-user-6", "--plan", "free"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    response = httpx.get(f"{local_stack.info['api']}/platforms", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    allowed = {p["platform"] for p in response.json()["items"] if p["allowedByPlan"]}
    assert allowed == {"vk", "telegram"}


def test_methods_the_api_does_not_have_are_404_as_api_gateway_answers(local_stack):
    api = local_stack.info["api"]
    for method in ("TRACE", "QUERY", "PATCH"):
        response = httpx.request(method, f"{api}/platforms")
        assert (response.status_code, response.json()) == (404, {"message": "Not Found"}), method


def test_a_page_rebound_to_this_machine_cannot_reach_the_local_api(local_stack):
    """DNS rebinding: a page on another site re-points its name at 127.0.0.1, so the
    browser sends that name as Host. Minting a token for any user must not answer it."""
    api = local_stack.info["api"]
    port = api.rsplit(":", 1)[1]
    for host in (
        f"evil.example:{port}",
        "evil.example",
        f"localhost.evil.example:{port}",
        f"127.0.0.1:{int(port) + 1}",
    ):
        response = httpx.post(f"{api}/local/token", json={"user": "victim"}, headers={"Host": host})
        assert response.status_code == 421, host
        assert "token" not in response.text
    for name in ("localhost", "127.0.0.1"):
        response = httpx.post(f"{api}/local/token", json={"user": "me"}, headers={"Host": f"{name}:{port}"})
        assert response.status_code == 200, name


def test_the_console_is_served_with_its_security_headers(local_stack):
    response = httpx.get(f"{local_stack.info['api']}/console/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_ctrl_c_stops_the_stack_and_cleans_up(tmp_path):
    """Stopping is quick (about a second on a quiet machine: everything is told to stop at
    once); the bound here only catches a stack that hangs."""
    import signal
    import time

    from tests.support.local_stack import free_port

    process = start(tmp_path / "quick.json", free_port(), free_port())
    wait_until(lambda: (tmp_path / "quick.json").exists() or process.poll() is not None, 60, "the stack")
    began = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=20)
    assert time.monotonic() - began < 10
    assert not (tmp_path / "quick.json").exists()


def test_make_token_takes_who_not_the_shells_user(local_stack):
    import os

    from devstack.template import ROOT

    result = subprocess.run(
        ["make", "--no-print-directory", "token", "WHO=alice", "PLAN=free"],
        cwd=ROOT,
        env={**os.environ, "USER": "root-of-this-shell"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    token = result.stdout.strip().splitlines()[-1]
    response = httpx.get(f"{local_stack.info['api']}/platforms", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    import jwt

    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "alice"


def test_stats_show_within_a_minute_locally(local_stack):
    user, api = "ls-stats", local_stack.api("ls-stats")
    local_stack.upload_ready_clip(user, "stats-clip")
    assert demo.connect_vk(api).status_code == 201
    (publication,) = api.post(
        "/clips/stats-clip/publications", json={"platforms": ["vk"], "title": "Статистика"}
    ).json()["items"]
    wait_until(
        lambda: api.get(f"/publications/{publication['id']}").json()["status"] == "published", 60, "published"
    )
    wait_until(
        lambda: api.get(f"/publications/{publication['id']}").json()["stats"]["syncedAt"] is not None,
        60,
        "stats synced",
    )


def test_make_upload_puts_a_sample_clip_and_waits_for_its_verdict(local_stack):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack",
            "upload",
            "--clip",
            "sample-1",
            "--user",
            "ls-upload",
            "--state-file",
            str(local_stack.state_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "clip sample-1 is ready: 5.0 s, 360×640" in result.stdout
