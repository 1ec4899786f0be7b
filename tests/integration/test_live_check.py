"""`make live-check` and `make live-publish`, run as an operator runs them, against the
emulators (pointed at by the same settings that point the service at the real platforms)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading

import pytest

from devstack.template import ROOT
from emulators.rutube import DEMO_LOGIN, DEMO_PASSWORD
from tests.support.videos import make_video


def run(platforms, *arguments: str, **environment: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VK_", "TELEGRAM_", "RUTUBE_", "DZEN_", "CLIP_"))
    }
    env.update(platforms.environment())
    # Ask again about a clip still processing after a second, not Rutube's 30.
    env.update(PROCESSING_CHECK_MIN_SECONDS="1", PROCESSING_CHECK_MAX_SECONDS="1")
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-m", "ops.live", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def clip_file(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(make_video("mp4"))
    return path


@pytest.fixture
def file_server(clip_file):
    """Where Rutube downloads the clip from in a live publish (CLIP_URL)."""
    directory = str(clip_file.parent)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, *args):
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{clip_file.name}"
    server.shutdown()


def test_vk_check_reports_each_expectation(platforms):
    token, _ = platforms.vk.issue_token()
    result = run(platforms, "check", "vk", VK_ACCESS_TOKEN=token, VK_GROUP_ID="2001")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "✓ users.get names the connection's user, and a video method answers (the right to video): "
        "Иван Петров (id 1001)" in result.stdout
    )
    assert (
        "✓ groups.get lists communities the user edits (the token has `groups`): Клипы о закатах (2001)"
        in result.stdout
    )
    assert "✓ VK_GROUP_ID 2001 is one of them: yes" in result.stdout
    assert "shortVideo.* (clips) are open to this token: no (error 3)" in result.stdout
    assert platforms.vk.videos == {}  # read-only: nothing was created


def test_vk_check_of_a_session_and_what_differs(platforms):
    session = platforms.vk.issue_session()
    result = run(platforms, "check", "vk", VK_SESSION=session, VK_GROUP_ID="999")
    assert result.returncode == 1
    assert "✓ the session mints a web token of VK's video app" in result.stdout
    assert "shortVideo.* (clips) are open to this session: yes" in result.stdout
    assert "✗ VK_GROUP_ID 999 is one of them" in result.stdout
    bad = run(platforms, "check", "vk", VK_ACCESS_TOKEN="dead")
    assert bad.returncode == 1 and "✗ users.get" in bad.stdout


def test_vk_check_says_when_vk_gave_no_video_right_or_refuses_the_legacy_flow(platforms):
    token, _ = platforms.vk.issue_token(scopes=frozenset({"groups"}))
    result = run(platforms, "check", "vk", VK_ACCESS_TOKEN=token)
    assert result.returncode == 1
    assert "✗ users.get names the connection's user" in result.stdout
    assert "нет права на видео" in result.stdout
    platforms.vk.legacy_flow_allowed = False
    token, _ = platforms.vk.issue_token()
    legacy = run(platforms, "check", "vk", VK_ACCESS_TOKEN=token, VK_AUTH_FLOW="implicit")
    assert legacy.returncode == 1
    assert "✗ VK lets this app use the legacy implicit flow" in legacy.stdout
    assert "Security Error" in legacy.stdout


def test_telegram_rutube_and_dzen_checks(platforms):
    bot = platforms.telegram.add_bot()
    platforms.telegram.add_channel("live_channel", "Живой канал", admin_bots=(bot,))
    telegram = run(platforms, "check", "telegram", TELEGRAM_BOT_TOKEN=bot, TELEGRAM_CHANNEL="@live_channel")
    assert telegram.returncode == 0 and "Живой канал" in telegram.stdout
    rutube = run(platforms, "check", "rutube", RUTUBE_LOGIN=DEMO_LOGIN, RUTUBE_PASSWORD=DEMO_PASSWORD)
    assert rutube.returncode == 0, rutube.stdout
    dzen = run(platforms, "check", "dzen", DZEN_SESSION=platforms.dzen.issue_session(name="Студия"))
    assert dzen.returncode == 0 and "Студия" in dzen.stdout
    missing = run(platforms, "check", "dzen")
    assert missing.returncode != 0 and "DZEN_SESSION" in missing.stderr


@pytest.mark.parametrize("platform", ["vk", "telegram", "rutube", "dzen"])
def test_live_publish_publishes_one_clip_and_prints_its_link(platforms, clip_file, file_server, platform):
    if platform == "vk":
        env = {"VK_SESSION": platforms.vk.issue_session()}
    elif platform == "telegram":
        bot = platforms.telegram.add_bot()
        platforms.telegram.add_channel("live_publish", admin_bots=(bot,))
        env = {"TELEGRAM_BOT_TOKEN": bot, "TELEGRAM_CHANNEL": "@live_publish"}
    elif platform == "rutube":
        env = {"RUTUBE_TOKEN": platforms.rutube.issue_token(), "CLIP_URL": file_server}
    else:
        env = {"DZEN_SESSION": platforms.dzen.issue_session()}
    platforms.vk.enforce_rate_limit = False
    try:
        result = run(platforms, "publish", platform, str(clip_file), **env)
    finally:
        platforms.vk.enforce_rate_limit = True
    assert result.returncode == 0, result.stdout + result.stderr
    (link,) = [line for line in result.stdout.splitlines() if line.startswith("published: ")]
    expected = {
        "vk": "https://vk.com/clip",
        "telegram": "https://t.me/live_publish/",
        "rutube": "https://rutube.ru/video/",
        "dzen": f"{platforms.dzen.base_url}/video/watch/",
    }[platform]
    assert link.removeprefix("published: ").startswith(expected)


def test_rutube_publish_needs_a_url_it_can_download(platforms, clip_file):
    result = run(platforms, "publish", "rutube", str(clip_file), RUTUBE_TOKEN=platforms.rutube.issue_token())
    assert result.returncode != 0 and "CLIP_URL" in result.stderr


def test_telegram_webhook_points_the_service_bot_at_the_api(platforms):
    bot = platforms.telegram.add_bot("autopost_service_bot")
    secret = "webhook-secret-" + "w" * 30
    result = subprocess.run(
        [sys.executable, "-m", "ops.telegram_webhook", "https://api.example.com/"],
        cwd=ROOT,
        env={
            **os.environ,
            **platforms.environment(),
            "TELEGRAM_BOT_TOKEN": bot,
            "TELEGRAM_WEBHOOK_SECRET": secret,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (registered,) = [b for b in platforms.telegram.bots.values() if b.token == bot]
    assert (registered.webhook_url, registered.webhook_secret) == (
        "https://api.example.com/telegram/webhook",
        secret,
    )
    assert registered.allowed_updates == ("channel_post",)
