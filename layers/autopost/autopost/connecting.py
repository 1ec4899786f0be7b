"""Connecting platform accounts: OAuth (VK ID, Яндекс for Дзен), forms (Telegram, Rutube),
listing, and disconnecting (which cancels the platform's scheduled publications)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import SecretStr

from autopost.crypto import TokenCipher
from autopost.errors import (
    ConnectionCheckFailed,
    OAuthNotSupported,
    OAuthStateInvalid,
    PlatformError,
    PlatformNotConnected,
    PlatformTemporarilyUnavailable,
    Rejected,
    StatusConflict,
    TokenExpired,
)
from autopost.models import Connection
from autopost.observability import logger
from autopost.orchestrator import PublishOrchestrator
from autopost.platforms import Platform, PlatformLimit
from autopost.providers import provider_for
from autopost.providers.base import Account, Credentials, Provider
from autopost.providers.oauth import CodeExchange, OAuthProvider, pkce_pair
from autopost.publishing import Caller
from autopost.secrets import MissingSecret, service_bot_token
from autopost.settings import Settings
from autopost.statuses import PublicationStatus
from autopost.storage.connections import ConnectionRepository
from autopost.storage.oauth_states import OAuthStateStore
from autopost.storage.publications import PublicationRepository
from autopost.storage.rate_limits import Budget, RateLimiter

T = TypeVar("T")

OAUTH_PLATFORMS = frozenset({Platform.VK, Platform.DZEN})
SERVICE_BOT = "service_bot"
DISCONNECT_CAUSE = "platform disconnected"


@dataclass(frozen=True)
class PlatformInfo:
    platform: Platform
    allowed: bool
    connection: Connection | None
    limit: PlatformLimit
    connect_method: str
    stats_available: bool


class ConnectionService:
    def __init__(
        self,
        settings: Settings,
        cipher: TokenCipher,
        *,
        providers: Callable[[Platform], Provider] | None = None,
    ) -> None:
        self._settings = settings
        self._connections = ConnectionRepository(settings, cipher)
        self._states = OAuthStateStore(settings, cipher)
        self._publications = PublicationRepository(settings)
        self._orchestrator = PublishOrchestrator(settings)
        self._rate_limiter = RateLimiter(settings)
        self._budget = Budget("connect", settings.connect_rate_per_hour, 3600)
        self._providers = providers or (lambda platform: provider_for(platform, settings))

    # -- reads ----------------------------------------------------------------------------

    def platforms(self, caller: Caller) -> list[PlatformInfo]:
        connected = {c.platform: c for c in self._connections.list_for_user(caller.user_id)}
        allowed = self._settings.plan_platforms(caller.plan)
        return [
            PlatformInfo(
                platform=platform,
                allowed=platform in allowed,
                connection=connected.get(platform),
                limit=self._settings.limit_for(platform),
                connect_method="oauth" if platform in OAUTH_PLATFORMS else "form",
                stats_available=platform is not Platform.TELEGRAM,
            )
            for platform in Platform
        ]

    def connections(self, caller: Caller) -> list[Connection]:
        return self._connections.list_for_user(caller.user_id)

    # -- OAuth ----------------------------------------------------------------------------

    def authorize_url(self, caller: Caller, platform: Platform) -> str:
        self._rate_limiter.hit(self._budget, caller.user_id)
        provider = self._oauth_provider(platform)
        verifier, challenge = pkce_pair()
        state = self._states.create(caller.user_id, platform, verifier)
        return provider.authorize_url(state, challenge, self.redirect_uri(platform))

    def finish_oauth(
        self,
        platform: Platform,
        *,
        state: str | None,
        code: str | None,
        device_id: str | None,
        error: str | None,
        user_id: str | None = None,
    ) -> Connection:
        provider = self._oauth_provider(platform)
        pending = self._states.consume(state, platform, user_id)
        if error or not code:
            raise OAuthStateInvalid(
                "Подключение отменено на стороне платформы", {"reason": error or "no_code"}
            )
        exchange = CodeExchange(
            code=code,
            verifier=pending.verifier.get_secret_value(),
            redirect_uri=self.redirect_uri(platform),
            device_id=device_id,
        )
        credentials, account = _checked(lambda: provider.exchange_code(exchange))
        connection = self._connections.connect(pending.user_id, platform, account, credentials)
        logger.info("platform connected", extra={"platform": platform.value, "user": pending.user_id})
        return connection

    def redirect_uri(self, platform: Platform) -> str:
        return f"{self._settings.public_api_url.rstrip('/')}/oauth/{platform.value}/callback"

    def _oauth_provider(self, platform: Platform) -> OAuthProvider:
        if platform not in OAUTH_PLATFORMS:
            raise OAuthNotSupported(details={"platform": platform.value})
        return self._providers(platform)  # type: ignore[return-value]

    # -- forms ----------------------------------------------------------------------------

    def connect_telegram(self, caller: Caller, channel: str, bot_token: SecretStr | None) -> Connection:
        self._rate_limiter.hit(self._budget, caller.user_id)
        extra = {"channel": channel}
        if bot_token is None:
            bot_token = self._service_bot_token()
            extra[SERVICE_BOT] = "1"
        credentials = Credentials(access_token=bot_token, extra=extra)
        account = _checked(lambda: self._providers(Platform.TELEGRAM).check(credentials))
        account = Account(account.account_id, account.name, {**account.extra, **extra})
        if extra.get(SERVICE_BOT):
            # The service's own bot token lives in Secrets Manager, not in every row.
            credentials = Credentials(access_token=SecretStr(""), extra=extra)
        return self._connections.connect(caller.user_id, Platform.TELEGRAM, account, credentials)

    def connect_rutube(self, caller: Caller, token: SecretStr) -> Connection:
        self._rate_limiter.hit(self._budget, caller.user_id)
        credentials = Credentials(access_token=token)
        account = _checked(lambda: self._providers(Platform.RUTUBE).check(credentials))
        return self._connections.connect(caller.user_id, Platform.RUTUBE, account, credentials)

    def _service_bot_token(self) -> SecretStr:
        try:
            return service_bot_token(self._settings)
        except MissingSecret as exc:
            raise ConnectionCheckFailed("Бот сервиса не настроен: укажите токен своего бота") from exc

    # -- disconnect -----------------------------------------------------------------------

    def disconnect(self, caller: Caller, platform: Platform) -> int:
        """Cancel the platform's scheduled publications, then delete the tokens."""
        if self._connections.get(caller.user_id, platform) is None:
            raise PlatformNotConnected(details={"platform": platform.value})
        cancelled = 0
        for publication in self._publications.scheduled_for(caller.user_id, platform):
            try:
                stopped = self._publications.transition(
                    publication.publication_id, PublicationStatus.SCHEDULED, PublicationStatus.CANCELLED
                )
            except StatusConflict:
                continue  # it started publishing meanwhile
            self._orchestrator.stop(stopped, cause=DISCONNECT_CAUSE)
            cancelled += 1
        self._connections.delete(caller.user_id, platform)
        logger.info("platform disconnected", extra={"platform": platform.value, "cancelled": cancelled})
        return cancelled


def _checked(call: Callable[[], T]) -> T:
    """A platform check in the user's terms: a bad token or refusal is 422, an outage 503."""
    try:
        return call()
    except TokenExpired as exc:
        raise ConnectionCheckFailed("Платформа не приняла токен: проверьте его и попробуйте снова") from exc
    except Rejected as exc:
        raise ConnectionCheckFailed(exc.message) from exc
    except PlatformError as exc:
        raise PlatformTemporarilyUnavailable(exc.message) from exc
