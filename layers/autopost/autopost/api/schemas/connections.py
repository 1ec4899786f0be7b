"""Connecting platforms: each way of connecting, the connection as the user sees it, the
platforms and their limits."""

from __future__ import annotations

import re

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from autopost.api.schemas.base import (
    ApiModel,
    InputModel,
    ascii_secret,
)
from autopost.domain.clock import Timestamp
from autopost.domain.errors import VK_SESSION_EXPIRED, TokenExpired
from autopost.domain.models import Connection, ConnectionStatus
from autopost.domain.platforms import Platform


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
    plans: list[str] = Field(description="The plans that include this platform")
    connected: bool
    connection: ConnectionOut | None
    connect_method: str = Field(description="oauth (VK), form (Telegram, Rutube) or session (Дзен)")
    connect_methods: list[ConnectMethodOut] = Field(
        description="Every way to connect, the recommended first (VK: session for clips, oauth)"
    )
    stats_available: bool
    limits: LimitOut
    notice: str | None = Field(description="What the user should know before connecting, in words")


class ConnectAttemptsOut(ApiModel):
    left: int = Field(description="Connect attempts the user has left this hour")
    limit: int = Field(
        description="Of how many: only a credential the platform refuses uses one up for the hour"
    )


class PlatformList(ApiModel):
    items: list[PlatformOut]
    connect_attempts: ConnectAttemptsOut


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
        return ascii_secret(value, allow_space=False)

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
        return ascii_secret(value, allow_space=True)  # type: ignore[return-value]


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
        return ascii_secret(value, allow_space=True)  # type: ignore[return-value]


class DisconnectOut(ApiModel):
    platform: Platform
    cancelled_publications: int
