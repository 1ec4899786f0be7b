"""Check our providers against a real platform before going live (README, "Before going live").

    python -m ops.live check vk                 (make live-check PLATFORM=vk)
    python -m ops.live publish vk clip.mp4      (make live-publish PLATFORM=vk CLIP=clip.mp4)

`check` makes only read-only calls, through the same provider code the service runs, and
prints what matched what the provider expects. `publish` publishes one real clip end to end
and prints the post's link. Credentials come from the environment (never from arguments,
so they stay out of shell history); base URLs are the service's own settings
(VK_API_URL, TELEGRAM_API_URL, RUTUBE_API_URL, DZEN_API_URL), so CI runs both against the
emulators.

    vk        VK_ACCESS_TOKEN, optional VK_GROUP_ID (a community to post to), VK_FORMAT (clip|video)
    telegram  TELEGRAM_BOT_TOKEN, TELEGRAM_CHANNEL (@name or -100…)
    rutube    RUTUBE_TOKEN, or RUTUBE_LOGIN and RUTUBE_PASSWORD; publish also needs CLIP_URL
              (where Rutube can download the same file: it imports by URL)
    dzen      DZEN_SESSION (the Cookie header of a signed-in studio page), optional DZEN_PUBLISHER_ID
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from autopost.errors import PlatformError
from autopost.platforms import Platform
from autopost.providers import provider_for
from autopost.providers.base import ClipSource, Credentials, PostDraft, Processing, PublishFormat
from autopost.providers.dzen import DzenProvider
from autopost.providers.rutube import RutubeProvider
from autopost.providers.telegram import TelegramProvider
from autopost.providers.vk import CLIP_METHODS_REFUSED, VkApiError, VkProvider, platform_error
from autopost.settings import Settings

# The tables and bucket are not used here; Settings asks for them.
_UNUSED = {
    name: "-"
    for name in ("CLIPS_TABLE", "PUBLICATIONS_TABLE", "CONNECTIONS_TABLE", "CONTROL_TABLE", "CLIPS_BUCKET")
}
PUBLISH_TIMEOUT = 30 * 60
# VK's answers to a clip method asked about a video that is not there: the method exists.
PROBE_SAYS_OPEN = frozenset({100, 104, 204})
# About 3 requests a second per token, as the service keeps to (autopost.throttling).
PACE_SECONDS = 0.4


def paced() -> Callable[[Credentials], None]:
    last = [0.0]

    def wait(_credentials: Credentials) -> None:
        delay = last[0] + PACE_SECONDS - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        last[0] = time.monotonic()

    return wait


CONTENT_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm"}


class MissingCredential(SystemExit):
    def __init__(self, names: str) -> None:
        super().__init__(f"set {names} in the environment (see python -m ops.live --help)")


@dataclass
class Report:
    lines: list[str]
    failed: int = 0

    def check(self, what: str, call: Callable[[], str]) -> Any:
        try:
            seen = call()
        except (PlatformError, KeyError, ValueError, TypeError) as exc:
            self.failed += 1
            self.lines.append(f"✗ {what}: {type(exc).__name__}: {getattr(exc, 'message', exc)}")
            return None
        self.lines.append(f"✓ {what}: {seen}")
        return seen


def settings() -> Settings:
    return Settings.model_validate({**_UNUSED, **os.environ})


def need(*names: str) -> list[str]:
    values = [os.environ.get(name, "") for name in names]
    if not all(values):
        raise MissingCredential(" and ".join(names))
    return values


def credentials_for(platform: Platform, config: Settings) -> Credentials:
    if platform is Platform.VK:
        (token,) = need("VK_ACCESS_TOKEN")
        group = os.environ.get("VK_GROUP_ID", "")
        return Credentials(SecretStr(token), extra={"group_id": group} if group else {})
    if platform is Platform.TELEGRAM:
        token, channel = need("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHANNEL")
        return Credentials(SecretStr(token), extra={"channel": channel})
    if platform is Platform.RUTUBE:
        if os.environ.get("RUTUBE_TOKEN"):
            return Credentials(SecretStr(os.environ["RUTUBE_TOKEN"]))
        login, password = need("RUTUBE_LOGIN", "RUTUBE_PASSWORD")
        token = RutubeProvider(config).token_for(login, SecretStr(password))
        return Credentials(token, extra={"login": login})
    (session,) = need("DZEN_SESSION")
    publisher = os.environ.get("DZEN_PUBLISHER_ID", "")
    return Credentials(SecretStr(session), extra={"publisher_id": publisher} if publisher else {})


# -- check: read-only calls -------------------------------------------------------------------


def check(platform: Platform, config: Settings) -> Report:
    report = Report([f"{platform.display_name}: read-only checks against {_base_url(platform, config)}"])
    credentials = credentials_for(platform, config)
    provider = provider_for(platform, config, paced())
    if isinstance(provider, VkProvider):
        _check_vk(report, provider, credentials)
    elif isinstance(provider, TelegramProvider):
        report.check(
            "getMe, getChat, getChatMember: the bot is an administrator that may post",
            lambda: _named(provider.check(credentials)),
        )
    elif isinstance(provider, RutubeProvider):
        report.check(
            "GET /api/video/person/ answers the token's own videos",
            lambda: _named(provider.check(credentials)),
        )
    elif isinstance(provider, DzenProvider):
        report.check(
            "the session gets a CSRF token and names its publisher",
            lambda: _named(provider.check(credentials)),
        )
    return report


def _check_vk(report: Report, provider: VkProvider, credentials: Credentials) -> None:
    account = report.check("users.get names the token's user", lambda: _named(provider.check(credentials)))
    if account is None:
        return
    owner = provider.check(credentials).account_id
    report.check(
        "video.get reads the user's videos (the token has `video`)",
        lambda: f"{provider.call('video.get', credentials, owner_id=owner, count=1).get('count', 0)} videos",
    )
    communities = report.check(
        "groups.get lists communities the user edits (the token has `groups`)",
        lambda: ", ".join(f"{name} ({gid})" for gid, name in provider.communities(credentials)) or "none",
    )
    group = credentials.extra.get("group_id")
    if group and communities is not None:
        report.check(
            f"VK_GROUP_ID {group} is one of them",
            lambda: (
                "yes"
                if any(str(gid) == group for gid, _ in provider.communities(credentials))
                else _fail("no")
            ),
        )
    report.check("shortVideo.* (clips) are open to this token", lambda: _clip_methods(provider, credentials))


def _clip_methods(provider: VkProvider, credentials: Credentials) -> str:
    """A harmless probe: encodeProgress of a video that does not exist. "Unknown method"
    (3) means VK keeps the clip methods from this token; any parameter error means open."""
    try:
        provider._raw_call("shortVideo.encodeProgress", credentials, owner_id=0, video_id=0, hash="0")
    except VkApiError as exc:
        if exc.code in CLIP_METHODS_REFUSED:
            return f"no (error {exc.code}): clips go out through video.save and may become regular videos"
        if exc.code in PROBE_SAYS_OPEN:
            return f"yes (a probe for a missing video got error {exc.code}, as expected)"
        raise platform_error(exc) from exc
    return "yes"


def _named(account: Any) -> str:
    return f"{account.name} (id {account.account_id})"


def _fail(message: str) -> str:
    raise ValueError(message)


def _base_url(platform: Platform, config: Settings) -> str:
    return {
        Platform.VK: config.vk_api_url,
        Platform.TELEGRAM: config.telegram_api_url,
        Platform.RUTUBE: config.rutube_api_url,
        Platform.DZEN: config.dzen_api_url,
    }[platform]


# -- publish: one real clip -------------------------------------------------------------------


def publish(
    platform: Platform, path: Path, config: Settings, title: str, sleep: Callable[[float], None]
) -> str:
    credentials = credentials_for(platform, config)
    provider = provider_for(platform, config, paced())
    if platform is Platform.TELEGRAM:
        credentials = Credentials(
            credentials.access_token, extra={**credentials.extra, **provider.check(credentials).extra}
        )
    if platform is Platform.DZEN and not credentials.extra.get("publisher_id"):
        credentials = Credentials(credentials.access_token, extra=provider.check(credentials).extra)
    clip = _file_clip(path)
    draft = PostDraft(title=title, format=PublishFormat(os.environ.get("VK_FORMAT", "clip")))
    checkpoint: dict[str, Any] | None = None

    def save(state: dict[str, Any]) -> None:
        nonlocal checkpoint
        checkpoint = state

    deadline = time.monotonic() + PUBLISH_TIMEOUT
    while True:
        outcome = provider.publish(credentials, clip, draft, checkpoint, save)
        if not isinstance(outcome, Processing):
            made = f" (VK made it a {outcome.published_as})" if outcome.published_as else ""
            return f"published: {outcome.url}{made}"
        if time.monotonic() > deadline:
            raise SystemExit(f"still processing after {PUBLISH_TIMEOUT // 60} min: {outcome.state}")
        print(f"… {outcome.state}", flush=True)
        sleep(min(outcome.check_after, 30.0))


def _file_clip(path: Path) -> ClipSource:
    size = path.stat().st_size

    def opened(offset: int) -> Any:
        handle = path.open("rb")
        handle.seek(offset)
        return handle

    url = os.environ.get("CLIP_URL")
    return ClipSource(
        size=size,
        filename=path.name,
        content_type=CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"),
        open=opened,
        share=(lambda _seconds: url) if url else None,
    )


def main(arguments: list[str] | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.live", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "publish"):
        command = commands.add_parser(name)
        command.add_argument("platform", choices=[p.value for p in Platform])
        if name == "publish":
            command.add_argument("clip", type=Path, help="a video file to publish")
            command.add_argument("--title", default="autopost: проверка публикации")
    args = parser.parse_args(arguments)
    platform, config = Platform(args.platform), settings()
    if args.command == "check":
        report = check(platform, config)
        print("\n".join(report.lines))
        print("all as the provider expects" if not report.failed else f"{report.failed} check(s) differ")
        return 1 if report.failed else 0
    if platform is Platform.RUTUBE and not os.environ.get("CLIP_URL"):
        raise MissingCredential("CLIP_URL (Rutube downloads the clip from it)")
    try:
        print(publish(platform, args.clip, config, args.title, sleep))
    except PlatformError as exc:
        print(f"✗ {platform.display_name}: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
