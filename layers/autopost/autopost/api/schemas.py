"""The HTTP API's request and response bodies (camelCase on the wire)."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.alias_generators import to_camel

from autopost.models import Clip, ClipStatus, Connection, ConnectionStatus, Publication
from autopost.platforms import Platform
from autopost.statuses import PublicationStatus

STATS_UNAVAILABLE = "Статистика недоступна"


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class PublishBody(ApiModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )

    platforms: list[Platform] = Field(min_length=1, max_length=len(Platform))
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    scheduled_at: AwareDatetime | None = Field(
        default=None, description="ISO 8601 with a time zone; omitted means now"
    )

    @field_validator("platforms")
    @classmethod
    def _unique(cls, platforms: list[Platform]) -> list[Platform]:
        if len(set(platforms)) != len(platforms):
            raise ValueError("platforms must not repeat")
        return platforms


class ErrorInfo(ApiModel):
    code: str
    message: str


class PostInfo(ApiModel):
    id: str
    url: str | None = None


class StatsOut(ApiModel):
    available: bool
    message: str | None = None
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    reposts: int | None = None
    synced_at: datetime | None = None


class PublicationOut(ApiModel):
    id: str
    clip_id: str
    platform: Platform
    status: PublicationStatus
    title: str
    description: str
    scheduled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    attempt: int
    error: ErrorInfo | None
    post: PostInfo | None
    stats: StatsOut

    @classmethod
    def of(cls, publication: Publication) -> PublicationOut:
        error = (
            ErrorInfo(code=publication.error_code or "PUBLISH_FAILED", message=publication.error_message)
            if publication.error_message
            else None
        )
        post = PostInfo(id=publication.post_id, url=publication.post_url) if publication.post_id else None
        figures = publication.stats or {}
        stats = (
            StatsOut(available=False, message=STATS_UNAVAILABLE)
            if publication.platform is Platform.TELEGRAM
            else StatsOut(available=True, synced_at=publication.stats_synced_at, **figures)
        )
        return cls(
            id=publication.publication_id,
            clip_id=publication.clip_id,
            platform=publication.platform,
            status=publication.status,
            title=publication.title,
            description=publication.description,
            scheduled_at=publication.scheduled_at,
            created_at=publication.created_at,
            updated_at=publication.updated_at,
            attempt=publication.attempt,
            error=error,
            post=post,
            stats=stats,
        )


class PublicationList(ApiModel):
    items: list[PublicationOut]
    next_cursor: str | None = None


class ClipOut(ApiModel):
    id: str
    status: ClipStatus
    reason: str | None
    size_bytes: int | None
    content_type: str | None
    duration_seconds: float | None
    width: int | None
    height: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, clip: Clip) -> ClipOut:
        return cls(
            id=clip.clip_id,
            status=clip.status,
            reason=clip.reason,
            size_bytes=clip.size_bytes,
            content_type=clip.content_type,
            duration_seconds=clip.duration_seconds,
            width=clip.width,
            height=clip.height,
            created_at=clip.created_at,
            updated_at=clip.updated_at,
        )


class ClipList(ApiModel):
    items: list[ClipOut]
    next_cursor: str | None = None


class ConnectionOut(ApiModel):
    platform: Platform
    name: str
    status: ConnectionStatus
    account_id: str
    account_name: str
    connected_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, connection: Connection) -> ConnectionOut:
        return cls(
            platform=connection.platform,
            name=connection.platform.display_name,
            status=connection.status,
            account_id=connection.account_id,
            account_name=connection.account_name,
            connected_at=connection.connected_at,
            expires_at=connection.expires_at,
        )


class ConnectionList(ApiModel):
    items: list[ConnectionOut]


class LimitOut(ApiModel):
    max_bytes: int
    max_duration_seconds: float | None
    verified: bool


class PlatformOut(ApiModel):
    platform: Platform
    name: str
    allowed_by_plan: bool
    connected: bool
    connection: ConnectionOut | None
    connect_method: str
    stats_available: bool
    limits: LimitOut


class PlatformList(ApiModel):
    items: list[PlatformOut]


class AuthorizeOut(ApiModel):
    authorize_url: str


class TelegramConnectBody(ApiModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )

    channel: str = Field(
        pattern=r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-100[0-9]{5,15})$",
        description="@username of the channel, or its numeric id (-100…)",
    )
    bot_token: SecretStr | None = Field(
        default=None, description="Your own bot's token; omitted means the service's bot"
    )

    @field_validator("bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"[0-9]{5,12}:[A-Za-z0-9_-]{30,64}", value.get_secret_value()
        ):
            raise ValueError("not a bot token")
        return value


class RutubeConnectBody(ApiModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )

    token: SecretStr = Field(min_length=16, max_length=256)


class DisconnectOut(ApiModel):
    platform: Platform
    cancelled_publications: int
