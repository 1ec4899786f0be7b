"""Domain objects: what the rest of the code works with (never PynamoDB records)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from autopost.domain.clock import utcnow
from autopost.domain.platforms import Platform, PublishFormat
from autopost.domain.statuses import PublicationStatus


@dataclass(frozen=True)
class Credentials:
    """A connection's secrets (SecretStr: never in a repr or a log) and account."""

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: datetime | None = None
    account_id: str = ""
    # Platform specifics that are not secret: VK ID's device_id and the community to post
    # to, a Telegram channel, a Дзен publisher id.
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    extra: dict[str, str] = field(default_factory=dict)


class ClipStatus(StrEnum):
    READY = "ready"
    INVALID = "invalid"
    DELETED = "deleted"


class Clip(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    user_id: str
    clip_id: str
    key: str
    status: ClipStatus
    reason: str | None = None
    size_bytes: int | None = None
    content_type: str | None = None
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    created_at: datetime
    updated_at: datetime


class Publication(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    publication_id: str
    user_id: str
    clip_id: str
    clip_key: str
    platform: Platform
    status: PublicationStatus
    title: str
    description: str = ""
    scheduled_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    attempt: int = 0
    execution_name: str
    error_code: str | None = None
    error_message: str | None = None
    # VK only: "clip" (VK Clips) or "video", as the user asked; and what VK made of it.
    format: PublishFormat | None = None
    published_as: PublishFormat | None = None
    post_id: str | None = None
    post_url: str | None = None
    processing_state: str | None = None
    # Since when the platform has been processing the clip (the state machine's cap).
    processing_since: datetime | None = None
    published_at: datetime | None = None
    upload_checkpoint: dict[str, Any] | None = None
    stats: dict[str, int | None] | None = None
    stats_synced_at: datetime | None = None
    # The state machine's retry the current attempt belongs to, and how many attempts failed.
    attempt_retry: int | None = None
    attempt_errors: int | None = None
    # When a post the platform took after the state machine gave up was adopted.
    adopted_at: datetime | None = None
    # Until when the platform asked us to wait.
    retry_not_before: datetime | None = None


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    # The platform refused the token and a refresh failed: the user must reconnect.
    EXPIRED = "expired"


class Connection(BaseModel):
    """A user's link to one platform account. Tokens live only in storage, encrypted."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    user_id: str
    platform: Platform
    status: ConnectionStatus
    account_id: str
    account_name: str = ""
    expires_at: datetime | None = None
    connected_at: datetime
    version: int = 1
    # Which grant the tokens are: a new one on connect, the next on every refresh. Rewrites
    # that keep the tokens (a key rotation, settings, an expiry mark) leave it, so a refresh
    # that lost a race to one of them still stores what the platform just handed out.
    generation: int = 0
    extra: dict[str, str] = {}
    # False for a token the platform gives no refresh for (VK's legacy implicit flow):
    # it is good until `expires_at`, then the user must connect again.
    refreshable: bool = True

    @property
    def lapsed(self) -> bool:
        return not self.refreshable and self.expires_at is not None and self.expires_at <= utcnow()

    @property
    def is_active(self) -> bool:
        return self.status is ConnectionStatus.ACTIVE and not self.lapsed


# -- what a request asks for: light types, so the API's routes import no service to name them --


@dataclass(frozen=True)
class Caller:
    user_id: str
    plan: str


@dataclass(frozen=True)
class PublishDraft:
    platforms: Sequence[Platform]
    title: str
    description: str
    scheduled_at: datetime | None
    vk_format: PublishFormat = PublishFormat.CLIP
    # Publish again where the clip is already published: a choice, never an accident.
    repost: bool = False


@dataclass(frozen=True)
class OAuthReturn:
    """What the console read from the platform's redirect back to it."""

    state: str
    code: str | None = None
    device_id: str | None = None
    access_token: SecretStr | None = None
    expires_in: int | None = None
    error: str | None = None
