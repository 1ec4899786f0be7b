"""The platforms we publish to, their upload limits and which plans may use them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

MB = 1024 * 1024


class Platform(StrEnum):
    VK = "vk"
    RUTUBE = "rutube"
    TELEGRAM = "telegram"
    DZEN = "dzen"

    @property
    def display_name(self) -> str:
        return _DISPLAY_NAMES[self]


_DISPLAY_NAMES = {
    Platform.VK: "VK",
    Platform.RUTUBE: "Rutube",
    Platform.TELEGRAM: "Telegram",
    Platform.DZEN: "Дзен",
}


class PlatformLimit(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_bytes: int = Field(gt=0)
    max_duration_seconds: float | None = Field(default=None, gt=0)
    # Only Telegram: the limit when a local Bot API server (--local) is configured.
    local_server_max_bytes: int | None = None
    verified: bool = False
    source: str = ""


# Where each figure comes from is in README.md ("Platform limits"); unverified ones are
# configurable defaults, not facts.
DEFAULT_LIMITS: dict[Platform, PlatformLimit] = {
    Platform.TELEGRAM: PlatformLimit(
        max_bytes=50 * MB,
        local_server_max_bytes=2000 * MB,
        verified=True,
        source="Telegram Bot API FAQ: sendVideo up to 50 MB; 2000 MB with a local Bot API server",
    ),
    Platform.VK: PlatformLimit(
        max_bytes=256 * 1024 * MB,
        max_duration_seconds=180,
        source="VK help pages (widely quoted): video up to 256 GB, clips up to 3 minutes",
    ),
    Platform.RUTUBE: PlatformLimit(
        max_bytes=10 * 1024 * MB,
        source="Rutube studio help (widely quoted): files up to 10 GB",
    ),
    Platform.DZEN: PlatformLimit(
        max_bytes=4 * 1024 * MB,
        max_duration_seconds=180,
        source="Дзен help (widely quoted): short videos up to 3 minutes; size cap assumed",
    ),
}

DEFAULT_PLANS: dict[str, frozenset[Platform]] = {
    "free": frozenset({Platform.VK, Platform.TELEGRAM}),
    "pro": frozenset(Platform),
    "business": frozenset(Platform),
}


def format_size(size: int) -> str:
    """Sizes as the seed's messages write them: «50 МБ», «4 ГБ»."""
    if size >= 1024 * MB and size % (1024 * MB) == 0:
        return f"{size // (1024 * MB)} ГБ"
    if size % MB == 0:
        return f"{size // MB} МБ"
    return f"{size / MB:.1f} МБ"


def format_duration(seconds: float) -> str:
    whole = int(seconds)
    if whole % 60 == 0 and whole >= 60:
        return f"{whole // 60} мин"
    return f"{whole} с"


class PublishFormat(StrEnum):
    """How a publication appears on VK: a clip (VK Clips) or a regular video."""

    CLIP = "clip"
    VIDEO = "video"
