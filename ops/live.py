"""Check our providers against a real platform before going live (README, "Before going live").

    python -m ops.live check vk                 (make live-check PLATFORM=vk)
    python -m ops.live publish vk clip.mp4      (make live-publish PLATFORM=vk CLIP=clip.mp4)

`check` makes only read-only calls, through the same provider code the service runs, and
prints what matched what the provider expects. `publish` publishes one real clip end to end
and prints the post's link. Credentials come from the environment (never from arguments,
so they stay out of shell history); base URLs are the service's own settings
(VK_API_URL, TELEGRAM_API_URL, RUTUBE_API_URL, DZEN_API_URL), so CI runs both against the
emulators.

    vk        VK_SESSION (the Cookie header of a signed-in vkvideo.ru page: clips, unofficial) or
              VK_ACCESS_TOKEN (OAuth: regular videos); optional VK_GROUP_ID (a community to post
              to), VK_FORMAT (clip|video)
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

from autopost.domain.errors import PlatformError
from autopost.domain.models import Credentials
from autopost.domain.platforms import Platform, PublishFormat
from autopost.infra.settings import Settings
from autopost.providers import provider_for
from autopost.providers.base import ClipSource, PostDraft, Processing
from autopost.providers.dzen import DzenProvider
from autopost.providers.rutube import RutubeProvider
from autopost.providers.telegram import TelegramProvider
from autopost.providers.vk import VkProvider
from autopost.providers.vk_api import VkApiError, platform_error
from autopost.providers.vk_session import AUTH as SESSION_AUTH
from autopost.providers.vk_session import is_session, session_cookies
from autopost.publish_worker.decisions import check_after

# The tables and bucket are not used here; Settings asks for them.
_UNUSED = {
    name: "-"
    for name in ("CLIPS_TABLE", "PUBLICATIONS_TABLE", "CONNECTIONS_TABLE", "CONTROL_TABLE", "CLIPS_BUCKET")
}
PUBLISH_TIMEOUT = 30 * 60
# VK's answers to a clip method asked about a video that is not there: the method exists.
PROBE_SAYS_OPEN = frozenset({100, 104, 204})
# ... and when the clip methods are not for this token: "Unknown method", "Access denied".
CLIP_METHODS_REFUSED = frozenset({3, 15})
# About 3 requests a second per token, as the service keeps to (autopost.connecting.throttling).
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
        group = os.environ.get("VK_GROUP_ID", "")
        extra = {"group_id": group} if group else {}
        if os.environ.get("VK_SESSION"):
            cookies = session_cookies(os.environ["VK_SESSION"])
            return Credentials(SecretStr(cookies), extra={**extra, "auth": SESSION_AUTH})
        (token,) = need("VK_ACCESS_TOKEN")
        return Credentials(SecretStr(token), extra=extra)
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
        _check_vk(report, provider, credentials, config)
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


def _check_vk(report: Report, provider: VkProvider, credentials: Credentials, config: Settings) -> None:
    session = is_session(credentials)
    if session:
        report.check(
            "the session mints a web token of VK's video app (al_video.php?act=web_token)",
            lambda: f"yes ({len(provider._session.web_token(credentials, fresh=True))} characters)",
        )
    elif config.vk_auth_flow == "implicit":
        report.check("VK lets this app use the legacy implicit flow", lambda: _legacy_flow_open(provider))
    account = report.check(
        "users.get names the connection's user, and a video method answers (the right to video)",
        lambda: _named(provider.check(credentials)),
    )
    if account is None:
        return
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
    what = "this session" if session else "this token"
    report.check(f"shortVideo.* (clips) are open to {what}", lambda: _clip_methods(provider, credentials))


def _clip_methods(provider: VkProvider, credentials: Credentials) -> str:
    """A harmless probe: encodeProgress of a video that does not exist. "Unknown method"
    (3) means VK keeps the clip methods from this token; any parameter error means open."""
    try:
        provider._raw_call("shortVideo.encodeProgress", credentials, owner_id=0, video_id=0, hash="0")
    except VkApiError as exc:
        if exc.vk_code in CLIP_METHODS_REFUSED:
            if is_session(credentials):
                return _fail(f"no (error {exc.vk_code}): VK no longer takes clips this way")
            return f"no (error {exc.vk_code}): an OAuth connection publishes regular videos"
        if exc.vk_code in PROBE_SAYS_OPEN:
            return f"yes (a probe for a missing video got error {exc.vk_code}, as expected)"
        raise platform_error(exc) from exc
    return "yes"


def _legacy_flow_open(provider: VkProvider) -> str:
    """The authorize page, not followed: VK sends an app it will not serve to its error page
    (`err=2`, "Security Error"; vkomic#50) instead of the consent page."""
    url = provider.authorize_url("live-check", "unused", "https://oauth.vk.com/blank.html")
    answer = provider._http.get(url)
    location = answer.headers.get("location", "")
    if "/error" in location:
        page = provider._http.get(location)
        return _fail(f"no: {page.text[:200]} (use VK ID, or connect VK through the session)")
    return f"yes (HTTP {answer.status_code})"


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
        # As the state machine would ask again, and at least every 30 s while someone watches.
        bounds = (config.processing_check_min_seconds, min(30, config.processing_check_max_seconds))
        sleep(check_after(outcome.check_after, bounds))


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
