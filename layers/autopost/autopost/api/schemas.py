"""The HTTP API's request and response bodies (camelCase on the wire)."""

from __future__ import annotations

import re
import unicodedata

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from autopost.domain.captions import DZEN_TITLE_CHARACTERS, TELEGRAM_CAPTION_UNITS, fit
from autopost.domain.clock import Timestamp
from autopost.domain.errors import VK_SESSION_EXPIRED, TokenExpired
from autopost.domain.history import EventType, EventView
from autopost.domain.models import Clip, ClipStatus, Connection, ConnectionStatus, Publication
from autopost.domain.platforms import Platform, PublishFormat
from autopost.domain.statuses import PublicationStatus
from autopost.domain.webhooks import Delivery, Endpoint
from autopost.providers.base import PostDraft

STATS_UNAVAILABLE = "Статистика недоступна"


class ApiModel(BaseModel):
    # Built on first use: a cold start builds only the schemas its request touches.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True)


class InputModel(ApiModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


class VkPublishOptions(InputModel):
    format: PublishFormat = Field(
        default=PublishFormat.CLIP, description="clip (VK Clips, the default) or video (a regular VK video)"
    )


class PublishBody(InputModel):
    platforms: list[Platform] = Field(min_length=1, max_length=len(Platform))
    title: str = Field(min_length=1, max_length=200, description="One line: no control characters")
    description: str = Field(
        default="", max_length=5000, description="Line breaks allowed; no other control characters"
    )
    scheduled_at: AwareDatetime | None = Field(
        default=None, description="ISO 8601 with a time zone; omitted means now"
    )
    vk: VkPublishOptions | None = Field(default=None, description="How the clip appears on VK")
    repost: bool = Field(
        default=False, description="Publish again where this clip is already published (else 409)"
    )

    @field_validator("title")
    @classmethod
    def _title_is_one_clean_line(cls, value: str) -> str:
        return _without_control_characters(value, allowed="")

    @field_validator("description")
    @classmethod
    def _description_is_clean_text(cls, value: str) -> str:
        return _without_control_characters(value, allowed="\n\r\t")

    @field_validator("platforms")
    @classmethod
    def _unique(cls, platforms: list[Platform]) -> list[Platform]:
        if len(set(platforms)) != len(platforms):
            raise PydanticCustomError("duplicate_platforms", "platforms must not repeat")
        return platforms

    @field_validator("scheduled_at", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        """A time is ISO 8601 text: a number (a Unix time?) is refused, not guessed at."""
        if value is not None and not isinstance(value, str):
            raise PydanticCustomError("datetime_type", "expected ISO 8601 text")
        return value


def _notices(publication: Publication) -> list[str]:
    """What will go out differently from what was asked, derived from the publication's own
    text the way its provider sends it (so it is said before, and stays said after)."""
    if publication.platform is Platform.TELEGRAM:
        fitted = fit(PostDraft(publication.title, publication.description).text)
        if fitted.shortened:
            return [
                f"Подпись длиннее, чем берёт Telegram: {fitted.units} знаков из {TELEGRAM_CAPTION_UNITS} "
                "(эмодзи считаются за два). В канал уйдёт её начало с «…»"
            ]
    if publication.platform is Platform.DZEN:
        said = []
        if publication.description:
            said.append("Дзен: описание не отправляется (так публикует единственный известный клиент)")
        if len(publication.title) > DZEN_TITLE_CHARACTERS:
            said.append(f"Дзен: заголовок будет сокращён до {DZEN_TITLE_CHARACTERS} знаков")
        return said
    return []


def _without_control_characters(value: str, allowed: str) -> str:
    """Text a platform shows as it is: a NUL or an escape sequence is refused, not sent."""
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in value) or any(
        ch in "\u2028\u2029\u202e\u2066\u2067\u2068\u2069" for ch in value
    ):
        raise PydanticCustomError("control_characters", "control characters are not allowed")
    return value


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
    synced_at: Timestamp | None = None


class PublicationOut(ApiModel):
    id: str
    clip_id: str
    platform: Platform
    status: PublicationStatus
    format: PublishFormat | None = Field(description="VK: clip or video, as asked")
    published_as: PublishFormat | None = Field(
        description="VK: what VK made of it (a clip asked for may become a regular video)"
    )
    processing_state: str | None = Field(description="What the platform last said while processing")
    title: str
    description: str
    scheduled_at: Timestamp | None
    published_at: Timestamp | None = Field(description="When the post went out")
    created_at: Timestamp
    updated_at: Timestamp
    attempt: int
    error: ErrorInfo | None
    post: PostInfo | None
    stats: StatsOut
    notices: list[str] = Field(
        default_factory=list,
        description="What goes out differently from what was asked, said before it goes "
        "(Telegram: a caption past 1,024 UTF-16 units is shortened)",
    )

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
            else StatsOut(
                available=True,
                synced_at=publication.stats_synced_at,
                views=figures.get("views"),
                likes=figures.get("likes"),
                comments=figures.get("comments"),
                reposts=figures.get("reposts"),
            )
        )
        return cls(
            notices=_notices(publication),
            id=publication.publication_id,
            clip_id=publication.clip_id,
            platform=publication.platform,
            status=publication.status,
            format=publication.format,
            published_as=publication.published_as,
            processing_state=publication.processing_state,
            title=publication.title,
            description=publication.description,
            scheduled_at=publication.scheduled_at,
            published_at=publication.published_at,
            created_at=publication.created_at,
            updated_at=publication.updated_at,
            attempt=publication.attempt,
            error=error,
            post=post,
            stats=stats,
        )


class PublicationEvents(ApiModel):
    items: list[EventView] = Field(description="What happened to the publication, oldest first")


class StatsPoint(ApiModel):
    at: Timestamp
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    reposts: int | None = None


class StatsSeries(ApiModel):
    available: bool = Field(description="False where the platform has no statistics (Telegram)")
    message: str | None = None
    items: list[StatsPoint] = Field(
        description="Hourly the first day, every 6 h to a week, daily to 30 days, weekly after"
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
    created_at: Timestamp
    updated_at: Timestamp

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


class DestinationOut(ApiModel):
    community_id: int
    name: str


class ConnectionOut(ApiModel):
    platform: Platform
    name: str
    status: ConnectionStatus
    account_id: str
    account_name: str
    connected_at: Timestamp
    expires_at: Timestamp | None
    refreshable: bool = Field(description="false: the token lapses at expiresAt and is not renewed")
    warning: str | None = Field(description="Something the user should act on, in words")
    destination: DestinationOut | None = Field(
        default=None, description="VK: the community posts go to; null means the user's own page"
    )
    method: str | None = Field(
        default=None, description="VK: session (clips, unofficial) or oauth (regular videos)"
    )

    @classmethod
    def of(cls, connection: Connection) -> ConnectionOut:
        status = ConnectionStatus.EXPIRED if connection.lapsed else connection.status
        session = connection.extra.get("auth") == "session"
        warning = None
        if status is ConnectionStatus.EXPIRED:
            warning = VK_SESSION_EXPIRED if session else TokenExpired.default_message
        elif not connection.refreshable and connection.expires_at is not None:
            warning = f"Токен {connection.platform.display_name} истекает — переподключите"
        group = connection.extra.get("group_id")
        return cls(
            platform=connection.platform,
            name=connection.platform.display_name,
            status=status,
            account_id=connection.account_id,
            account_name=connection.account_name,
            connected_at=connection.connected_at,
            expires_at=connection.expires_at,
            refreshable=connection.refreshable,
            warning=warning,
            destination=DestinationOut(community_id=int(group), name=connection.extra.get("group_name", ""))
            if group
            else None,
            method=("session" if session else "oauth") if connection.platform is Platform.VK else None,
        )


class ConnectionList(ApiModel):
    items: list[ConnectionOut]


class LimitOut(ApiModel):
    max_bytes: int
    max_duration_seconds: float | None
    verified: bool


class ConnectMethodOut(ApiModel):
    method: str = Field(description="session, oauth or form")
    official: bool = Field(description="false: the platform's own site is used as a browser would")
    notice: str | None = Field(description="What this way means for the user's account, in words")


class PlatformOut(ApiModel):
    platform: Platform
    name: str
    allowed_by_plan: bool
    connected: bool
    connection: ConnectionOut | None
    connect_method: str = Field(description="oauth (VK), form (Telegram, Rutube) or session (Дзен)")
    connect_methods: list[ConnectMethodOut] = Field(
        description="Every way to connect, the recommended first (VK: session for clips, oauth)"
    )
    stats_available: bool
    limits: LimitOut
    notice: str | None = Field(description="What the user should know before connecting, in words")


class PlatformList(ApiModel):
    items: list[PlatformOut]


class AuthorizeBody(InputModel):
    redirect_uri: str | None = Field(
        default=None,
        max_length=512,
        description="The console's address the user is on; omitted: the main one",
    )


class AuthorizeOut(ApiModel):
    authorize_url: str
    state: str = Field(description="Keep it: the redirect back carries it, and completing needs it")


class OAuthCompleteBody(InputModel):
    """What the platform's redirect back to the console carried: a code (VK ID) or, with
    VK's legacy implicit flow, the token from the URL fragment."""

    state: str = Field(min_length=1, max_length=128)
    code: str | None = Field(default=None, max_length=2048)
    device_id: str | None = Field(default=None, max_length=256)
    access_token: SecretStr | None = Field(default=None, max_length=512)
    expires_in: int | None = Field(default=None, ge=0, le=10 * 365 * 86400)
    error: str | None = Field(default=None, max_length=256)


class DestinationsOut(ApiModel):
    items: list[DestinationOut]
    current: DestinationOut | None


class DestinationBody(InputModel):
    community_id: int | None = Field(description="A community id, or null for the user's own page", ge=1)


CHANNEL = Field(
    pattern=r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-100[0-9]{5,15})$",
    description="@username of the channel, or its numeric id (-100…)",
)


class TelegramConnectBody(InputModel):
    channel: str = CHANNEL
    bot_token: SecretStr = Field(description="Your own bot's token; the bot administers the channel")

    @field_validator("bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(r"[0-9]{5,12}:[A-Za-z0-9_-]{30,64}", value.get_secret_value()):
            raise ValueError("not a bot token")
        return value


class TelegramProofBody(InputModel):
    channel: str = CHANNEL


class TelegramProofOut(ApiModel):
    code: str = Field(
        description="Post it in the channel; the service's bot deletes it and connects the channel"
    )
    expires_at: Timestamp
    instructions: str


class RutubeConnectBody(InputModel):
    """An API token, or a login and password exchanged once for one (never stored)."""

    token: SecretStr | None = Field(default=None, min_length=16, max_length=256)
    login: str | None = Field(default=None, min_length=3, max_length=254)
    password: SecretStr | None = Field(default=None, min_length=1, max_length=256)

    @field_validator("token")
    @classmethod
    def _header_safe(cls, value: SecretStr | None) -> SecretStr | None:
        # The token goes in an HTTP header (the password only in a JSON body: any letters).
        return _ascii_secret(value, allow_space=False)

    @model_validator(mode="after")
    def _one_way(self) -> RutubeConnectBody:
        if (self.token is None) == (self.login is None or self.password is None):
            raise ValueError("give either token, or login and password")
        return self


class VkSessionConnectBody(InputModel):
    session: SecretStr = Field(
        min_length=20,
        max_length=16384,
        description="The Cookie header of a vkvideo.ru page you are signed in to (only VK's "
        "session cookies are kept)",
    )

    @field_validator("session")
    @classmethod
    def _cookie_header(cls, value: SecretStr) -> SecretStr:
        return _ascii_secret(value, allow_space=True)  # type: ignore[return-value]


class DzenConnectBody(InputModel):
    session: SecretStr = Field(
        min_length=20,
        max_length=16384,
        description="The Cookie header of a dzen.ru studio page you are signed in to",
    )
    publisher_id: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{24}$", description="The channel's id from the studio URL"
    )

    @field_validator("session")
    @classmethod
    def _cookie_header(cls, value: SecretStr) -> SecretStr:
        return _ascii_secret(value, allow_space=True)  # type: ignore[return-value]


class DisconnectOut(ApiModel):
    platform: Platform
    cancelled_publications: int


# -- webhooks (autopost.domain.webhooks) ------------------------------------------------------------


class WebhookBody(InputModel):
    url: str = Field(
        min_length=9, max_length=2048, description="https:// only; a public address (not a private network)"
    )
    event_types: list[EventType] | None = Field(
        default=None,
        min_length=1,
        max_length=len(EventType),
        description="The events to receive; omitted: all of them",
    )

    @field_validator("event_types")
    @classmethod
    def _unique_types(cls, value: list[EventType] | None) -> list[EventType] | None:
        if value is not None and len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_event_types", "event types must not repeat")
        return value


class WebhookOut(ApiModel):
    id: str
    url: str
    event_types: list[str] = Field(description="The events it receives (every type when created without)")
    created_at: Timestamp

    @classmethod
    def of(cls, endpoint: Endpoint) -> WebhookOut:
        return cls(
            id=endpoint.endpoint_id,
            url=endpoint.url,
            event_types=list(endpoint.event_types or (t.value for t in EventType)),
            created_at=endpoint.created_at,
        )


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="whsec_…: verifies the webhook-signature header (Standard Webhooks). Shown only now"
    )


class WebhookList(ApiModel):
    items: list[WebhookOut]


class DeliveryOut(ApiModel):
    event_id: str = Field(description="The webhook-id header: the same for every attempt of an event")
    type: str
    at: Timestamp
    attempt: int
    status_code: int | None = Field(description="The receiver's HTTP status; null if none came")
    ok: bool
    error: str | None = Field(description="Why it failed, or the start of the receiver's answer")

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls(
            event_id=delivery.event_id,
            type=delivery.type,
            at=delivery.at,
            attempt=delivery.attempt,
            status_code=delivery.status_code,
            ok=delivery.ok,
            error=delivery.error,
        )


class DeliveryList(ApiModel):
    items: list[DeliveryOut] = Field(description="The latest attempts, newest first")


def _ascii_secret(value: SecretStr | None, *, allow_space: bool) -> SecretStr | None:
    """A credential that travels in an HTTP header is printable ASCII, or it is not one."""
    if value is None:
        return value
    low = 0x20 if allow_space else 0x21
    if any(not low <= ord(c) <= 0x7E for c in value.get_secret_value()):
        raise PydanticCustomError("ascii_credential", "credentials are printable ASCII")
    return value
