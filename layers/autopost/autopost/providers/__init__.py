"""One provider per platform behind one interface; `provider_for` picks it.

A provider's module (and httpx with it) is loaded when that platform is first needed: a
worker publishing to Telegram never loads Дзен's, an API route that names a publication
format loads none.
"""

from __future__ import annotations

from collections.abc import Callable

from autopost.domain.errors import UnknownPlatform
from autopost.domain.models import Credentials
from autopost.domain.platforms import Platform
from autopost.infra.lazy import lazy
from autopost.infra.settings import Settings
from autopost.providers.base import Provider

dzen = lazy("autopost.providers.dzen")
rutube = lazy("autopost.providers.rutube")
telegram = lazy("autopost.providers.telegram")
vk = lazy("autopost.providers.vk")


def provider_for(
    platform: Platform | str,
    settings: Settings,
    throttle: Callable[[Credentials], None] | None = None,
) -> Provider:
    """`throttle` is called before each platform API call (VK's per-token budget)."""
    try:
        platform = Platform(platform)
    except ValueError as exc:
        raise UnknownPlatform(details={"platform": str(platform)}) from exc
    if platform is Platform.VK:
        return vk.VkProvider(settings, throttle=throttle)
    if platform is Platform.TELEGRAM:
        return telegram.TelegramProvider(settings)
    if platform is Platform.RUTUBE:
        return rutube.RutubeProvider(settings)
    return dzen.DzenProvider(settings)
