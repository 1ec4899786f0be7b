"""The four emulators together: started on loopback, with the settings that point at them."""

from __future__ import annotations

from dataclasses import dataclass

from emulators.dzen import DzenEmulator
from emulators.rutube import RutubeEmulator
from emulators.telegram import TelegramEmulator
from emulators.vk import VkEmulator


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
            "VK_CLIENT_ID": "51234567",
            "TELEGRAM_API_URL": self.telegram.base_url,
            "RUTUBE_API_URL": self.rutube.base_url,
            "DZEN_API_URL": self.dzen.base_url,
            "YANDEX_OAUTH_URL": self.dzen.base_url,
            "YANDEX_LOGIN_URL": self.dzen.base_url,
            "YANDEX_CLIENT_ID": self.dzen.client_id,
            "YANDEX_CLIENT_SECRET": self.dzen.client_secret,
        }


def start_platforms() -> Platforms:
    platforms = Platforms(VkEmulator(), TelegramEmulator(), RutubeEmulator(), DzenEmulator())
    for emulator in platforms.all():
        emulator.start()
    return platforms
