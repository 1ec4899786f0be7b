"""One provider per platform behind one interface; `provider_for` picks it."""

from __future__ import annotations

from collections.abc import Callable

from autopost.errors import UnknownPlatform
from autopost.platforms import Platform
from autopost.providers.base import Credentials, Provider
from autopost.providers.dzen import DzenProvider
from autopost.providers.rutube import RutubeProvider
from autopost.providers.telegram import TelegramProvider
from autopost.providers.vk import VkProvider
from autopost.settings import Settings


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
        return VkProvider(settings, throttle=throttle)
    if platform is Platform.TELEGRAM:
        return TelegramProvider(settings)
    if platform is Platform.RUTUBE:
        return RutubeProvider(settings)
    return DzenProvider(settings)
