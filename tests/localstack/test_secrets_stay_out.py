"""No platform credential reaches a log line or a trace segment, in any function: the API
(connecting every platform), the publish worker (publishing to each), the stats sync and
the Telegram webhook, run by the local stack with tracing on (its X-Ray segments kept in a
file, as the daemon would receive them) and handlers logging at INFO."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devstack import demo
from emulators.rutube import DEMO_LOGIN, DEMO_PASSWORD
from tests.support.local_stack import running, wait_until

FINAL = ("published", "failed", "cancelled")


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    folder = tmp_path_factory.mktemp("traced")
    trace_file = folder / "traces.jsonl"
    with running(folder, "--trace-file", str(trace_file), "--stats-interval", "2", "--verbose") as stack:
        yield stack, trace_file, folder / "stack.log"


def issued(stack) -> list[str]:
    return [
        secret
        for name in ("vk", "telegram", "rutube", "dzen")
        for secret in httpx.get(f"{stack.emulator(name)}/_emulator/state").json()["issued"]
    ]


def test_no_credential_reaches_a_log_line_or_a_trace(traced):
    stack, trace_file, log_file = traced
    user = "leak-user"
    api = stack.api(user)
    stack.upload_ready_clip(user, "leak-clip")
    telegram = stack.emulator("telegram")

    # Telegram with the user's own bot (the token goes in every Bot API URL).
    bot = httpx.post(f"{telegram}/_emulator/bot", json={"username": "leak_bot"}).json()["token"]
    httpx.post(f"{telegram}/_emulator/channel", json={"username": "leak_channel", "admin_bots": [bot]})
    assert (
        api.post("/connections/telegram", json={"channel": "@leak_channel", "botToken": bot}).status_code
        == 201
    )
    # VK (the authorize URL and its state are in the API's answer).
    assert demo.connect_vk(api).status_code == 201
    # Rutube by login and password; Дзен by the studio session.
    rutube = api.post("/connections/rutube", json={"login": DEMO_LOGIN, "password": DEMO_PASSWORD})
    assert rutube.status_code == 201
    session = httpx.post(f"{stack.emulator('dzen')}/_emulator/session", json={"name": "Канал"}).json()[
        "cookies"
    ]
    assert api.post("/connections/dzen", json={"session": session}).status_code == 201
    # The service bot: a channel proven by a posted code, through the webhook.
    other = stack.api("leak-user-2")
    httpx.post(
        f"{telegram}/_emulator/channel",
        json={"username": "leak_service", "admin_bots": ["@autopost_service_bot"]},
    )
    code = other.post("/connections/telegram/proof", json={"channel": "@leak_service"}).json()["code"]
    httpx.post(f"{telegram}/_emulator/channel_post", json={"channel": "@leak_service", "text": code})
    # VK through the signed-in session: its cookies, and the web tokens each function mints.
    stack.upload_ready_clip("leak-user-2", "leak-clip-2")
    assert demo.connect_vk_session(other, stack.emulator("vk"), 40_002).status_code == 201
    clip = other.post("/clips/leak-clip-2/publications", json={"platforms": ["vk"], "title": "Сессия?"})
    assert clip.status_code == 201, clip.text
    session_clip = clip.json()["items"][0]["id"]

    # A webhook endpoint: its signing secret is shown once, and every event is signed with it
    # (here to a port nobody listens on: the attempts fail and are retried, still signing).
    hook = api.post("/webhooks", json={"url": "https://127.0.0.1:9/hook"})
    assert hook.status_code == 201, hook.text

    response = api.post(
        "/clips/leak-clip/publications",
        json={"platforms": ["vk", "telegram", "rutube", "dzen"], "title": "Утечка?"},
    )
    assert response.status_code == 201, response.text
    ids = [p["id"] for p in response.json()["items"]]
    wait_until(lambda: all(api.get(f"/publications/{i}").json()["status"] in FINAL for i in ids), 90, "final")
    assert {api.get(f"/publications/{i}").json()["status"] for i in ids} == {"published"}
    # The stats sync has run over the published ones (every 2 s here).
    wait_until(
        lambda: all(
            api.get(f"/publications/{i}").json()["stats"].get("syncedAt")
            for i in ids
            if api.get(f"/publications/{i}").json()["platform"] != "telegram"
        ),
        30,
        "stats synced",
    )
    wait_until(
        lambda: other.get(f"/publications/{session_clip}").json()["stats"].get("syncedAt"),
        60,
        "the session's clip published and its figures synced",
    )
    assert other.get(f"/publications/{session_clip}").json()["publishedAs"] == "clip"
    # Deliveries were attempted (and failed): the secret was used.
    wait_until(lambda: api.get(f"/webhooks/{hook.json()['id']}/deliveries").json()["items"], 30, "deliveries")
    secrets = [*issued(stack), DEMO_PASSWORD, hook.json()["secret"].removeprefix("whsec_")]
    assert len(secrets) >= 9

    traces = trace_file.read_text()
    # Tracing did run: the handlers' subsegments and the AWS calls in them.
    assert '"name": "## lambda_handler"' in traces and '"name": "dynamodb"' in traces
    # The stack's banner shows the emulators' demo accounts on purpose (README, make dev);
    # everything after it is what the functions logged.
    banner, _, logged = log_file.read_text().partition("Ctrl-C stops it.")
    assert banner and logged
    text = traces + logged
    assert "platform connected" in text  # and so did logging
    for secret in secrets:
        for start in range(len(secret) - 7):
            piece = secret[start : start + 8]
            assert piece not in text, f"a piece of a credential reached a log or a trace: {piece[:2]}…"


def test_an_oauth_state_is_not_kept_in_a_trace(traced):
    stack, trace_file, _ = traced
    api = stack.api("leak-user-3")
    url = api.post("/connections/vk/authorize").json()["authorizeUrl"]
    state = parse_qs(urlsplit(url).query)["state"][0]
    wait_until(lambda: trace_file.stat().st_mtime > datetime.now(UTC).timestamp() - 30, 5, "a trace")
    assert state not in trace_file.read_text()
