"""The four emulators together: started on loopback, with the settings that point at them."""

from __future__ import annotations

from dataclasses import dataclass

from emulators.dzen import DzenEmulator
from emulators.rutube import RutubeEmulator
from emulators.telegram import TelegramEmulator
from emulators.vk import CLIENT_ID, VkEmulator


@dataclass
class Platforms:
    vk: VkEmulator
    telegram: TelegramEmulator
    rutube: RutubeEmulator
    dzen: DzenEmulator

    def all(self) -> tuple:
        return (self.vk, self.telegram, self.rutube, self.dzen)

    def environment(self) -> dict[str, str]:
        """Settings that point the providers at the emulators."""
        return {
            "VK_API_URL": self.vk.base_url,
            "VK_ID_URL": self.vk.base_url,
            "VK_OAUTH_URL": self.vk.base_url,
            "VK_WEB_URL": self.vk.base_url,
            "VK_WEB_API_URL": self.vk.base_url,
            "VK_CLIENT_ID": CLIENT_ID,
            "TELEGRAM_API_URL": self.telegram.base_url,
            "RUTUBE_API_URL": self.rutube.base_url,
            "DZEN_API_URL": self.dzen.base_url,
        }


def start_platforms() -> Platforms:
    platforms = Platforms(VkEmulator(), TelegramEmulator(), RutubeEmulator(), DzenEmulator())
    for emulator in platforms.all():
        emulator.start()
    return platforms
