"""Connecting platform accounts: VK through the signed-in VK session (clips, unofficial) or
OAuth (VK ID or the legacy implicit flow, both completed by the console with the user's own
token; regular videos), Telegram, Rutube and Дзен through forms; listing; choosing where VK
posts go; disconnecting (which cancels the platform's scheduled publications)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from pydantic import SecretStr

from autopost.connecting.telegram_channels import Proof, TelegramChannels
from autopost.connecting.throttling import RequestBudgets
from autopost.domain.errors import (
    ConnectionCheckFailed,
    CredentialRefused,
    InvalidRequest,
    OAuthNotSupported,
    OAuthStateInvalid,
    PlatformError,
    PlatformNotConnected,
    PlatformTemporarilyUnavailable,
    Rejected,
    TokenExpired,
)
from autopost.domain.models import Account, Caller, Connection, Credentials, OAuthReturn
from autopost.domain.platforms import Platform, PlatformLimit
from autopost.domain.statuses import PublicationStatus
from autopost.infra.crypto import CipherSource
from autopost.infra.observability import logger
from autopost.infra.secrets import MissingSecret, service_bot_token
from autopost.infra.settings import Settings
from autopost.providers import provider_for
from autopost.providers.base import Provider
from autopost.providers.oauth import OAuthGrant, OAuthProvider, pkce_pair
from autopost.providers.rutube import RutubeProvider
from autopost.providers.vk import VkProvider
from autopost.providers.vk_session import AUTH as SESSION_AUTH
from autopost.providers.vk_session import session_cookies
from autopost.publishing.orchestrator import PublishOrchestrator
from autopost.storage.channel_claims import ChannelClaims
from autopost.storage.connections import ConnectionRepository
from autopost.storage.errors import PublicationChanged
from autopost.storage.oauth_states import OAuthStateStore
from autopost.storage.publications import PublicationRepository
from autopost.storage.rate_limits import Budget, RateLimiter

T = TypeVar("T")

OAUTH_PLATFORMS = frozenset({Platform.VK})
CONNECT_METHODS = {
    Platform.VK: "oauth",
    Platform.TELEGRAM: "form",
    Platform.RUTUBE: "form",
    Platform.DZEN: "session",
}
VK_SESSION_NOTICE = (
    "Неофициальный способ: клипы VK публикуются так, как их публикует сайт VK Видео из вашего "
    "браузера. autopost хранит только cookie входа в VK (зашифрованными), не пароль; через них "
    "он действует от вашего имени в VK Видео. VK может перестать принимать такой вход без "
    "предупреждения или попросить войти заново; выход из VK на всех устройствах и отключение "
    "VK здесь их отменяют"
)
VK_OAUTH_NOTICE = (
    "Официальный вход через VK ID: публикуются обычные видео VK (не клипы), и только если VK "
    "выдал приложению сервиса право на видео"
)
# VK's answer to an app it no longer serves the legacy flow (G-kylexy/vkomic#50).
VK_APP_REFUSED = (
    "VK не пускает приложение сервиса в старый способ входа (Security Error). Подключите VK "
    "через сессию VK, а администратору сервиса стоит перейти на вход через VK ID"
)
NOTICES = {
    Platform.DZEN: (
        "Неофициальный способ: у Дзена нет API для публикации, autopost работает через сессию "
        "студии, как браузер. Он может перестать работать без предупреждения"
    ),
}
DISCONNECT_CAUSE = "platform disconnected"
# Every connect attempt, whatever its end, counts toward this many times the strict budget.
ANY_ATTEMPTS_FACTOR = 6


@dataclass(frozen=True)
class ConnectMethod:
    method: str
    official: bool
    notice: str | None = None


# Every way each platform connects, the first the one the console offers first.
CONNECT_WAYS = {
    Platform.VK: (
        ConnectMethod("session", official=False, notice=VK_SESSION_NOTICE),
        ConnectMethod("oauth", official=True, notice=VK_OAUTH_NOTICE),
    ),
    Platform.TELEGRAM: (ConnectMethod("form", official=True),),
    Platform.RUTUBE: (ConnectMethod("form", official=True),),
    Platform.DZEN: (ConnectMethod("session", official=False, notice=NOTICES[Platform.DZEN]),),
}


@dataclass(frozen=True)
class PlatformInfo:
    platform: Platform
    allowed: bool
    # The plans that include it (to name one where it is not the caller's).
    plans: tuple[str, ...]
    connection: Connection | None
    limit: PlatformLimit
    connect_method: str
    stats_available: bool
    notice: str | None
    methods: tuple[ConnectMethod, ...]


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str


class ConnectionService:
    def __init__(
        self,
        settings: Settings,
        cipher: CipherSource,
        *,
        providers: Callable[[Platform], Provider] | None = None,
    ) -> None:
        self._settings = settings
        self._connections = ConnectionRepository(settings, cipher)
        self._states = OAuthStateStore(settings, cipher)
        self._publications = PublicationRepository(settings)
        self._orchestrator = PublishOrchestrator(settings)
        self._rate_limiter = RateLimiter(settings)
        # Refused credentials: the harvesting signal (`_attempt`).
        self._budget = Budget("connect", settings.connect_rate_per_hour, 3600)
        # Every attempt, whatever its end: bounds the platform calls one user can cause.
        self._any_budget = Budget("connect-any", settings.connect_rate_per_hour * ANY_ATTEMPTS_FACTOR, 3600)
        budgets = RequestBudgets(self._rate_limiter)
        self._providers = providers or (
            lambda platform: provider_for(platform, settings, budgets.throttle_for(platform))
        )
        self._channels = TelegramChannels(
            self._connections,
            ChannelClaims(settings),
            self._providers(Platform.TELEGRAM),  # type: ignore[arg-type]
            self._service_bot_token,
        )

    # -- the connect budget --------------------------------------------------------------

    @contextlib.contextmanager
    def _attempt(self, caller: Caller) -> Iterator[None]:
        """One attempt to connect with a credential. It costs one of the strict budget
        (`connect_rate_per_hour`) only if the platform refused the credential itself: it is
        charged before the platform is asked, so no more than the budget are ever in flight,
        and given back when the credential was accepted, the input was wrong in a way the
        user can fix, or the platform or we failed. Every attempt also counts toward a budget
        several times larger that is never given back. Someone trying other people's tokens
        is refused nearly every time, so meets the strict budget as before; a user who
        mistypes a channel or disconnects and connects again does not."""
        charged = self._rate_limiter.hit(self._budget, caller.user_id)
        try:
            self._rate_limiter.hit(self._any_budget, caller.user_id)
            yield
        except CredentialRefused:
            raise
        except BaseException:
            self._rate_limiter.refund(charged)
            raise
        self._rate_limiter.refund(charged)

    def attempts_left(self, caller: Caller) -> tuple[int, int]:
        """How many connect attempts the user has left this hour, and of how many."""
        left = min(
            self._rate_limiter.left(self._budget, caller.user_id),
            self._rate_limiter.left(self._any_budget, caller.user_id),
        )
        return left, self._budget.limit

    # -- reads ----------------------------------------------------------------------------

    def platforms(self, caller: Caller) -> list[PlatformInfo]:
        connected = {c.platform: c for c in self._connections.list_for_user(caller.user_id)}
        allowed = self._settings.plan_platforms(caller.plan)
        return [
            PlatformInfo(
                platform=platform,
                allowed=platform in allowed,
                plans=tuple(
                    sorted(p for p, included in self._settings.plans.items() if platform in included)
                ),
                connection=connected.get(platform),
                limit=self._settings.limit_for(platform),
                connect_method=CONNECT_METHODS[platform],
                stats_available=platform is not Platform.TELEGRAM,
                notice=NOTICES.get(platform),
                methods=CONNECT_WAYS[platform],
            )
            for platform in Platform
        ]

    def connections(self, caller: Caller) -> list[Connection]:
        return self._connections.list_for_user(caller.user_id)

    def connection(self, caller: Caller, platform: Platform) -> Connection:
        found = self._connections.get(caller.user_id, platform)
        if found is None:
            raise PlatformNotConnected(details={"platform": platform.value})
        return found

    # -- OAuth (VK) -----------------------------------------------------------------------

    def authorize(self, caller: Caller, platform: Platform, redirect_uri: str | None = None) -> Authorization:
        """The platform's authorize URL. It sends the browser back to the console: the one
        the caller is on (`redirect_uri`), if it is one of ours, else the main one."""
        redirect = redirect_uri or self._settings.console_url
        if redirect not in self._settings.console_urls:
            raise InvalidRequest("Адрес возврата не принадлежит консоли", {"field": "redirectUri"})
        # Only a link to the platform: the strict budget is charged when it comes back, but
        # with none left the user hears so now, not after signing in at the platform.
        self._rate_limiter.refund(self._rate_limiter.hit(self._budget, caller.user_id))
        self._rate_limiter.hit(self._any_budget, caller.user_id)
        provider = self._oauth_provider(platform)
        verifier, challenge = pkce_pair()
        state = self._states.create(caller.user_id, platform, verifier, redirect)
        return Authorization(provider.authorize_url(state, challenge, redirect), state)

    def complete_oauth(self, caller: Caller, platform: Platform, returned: OAuthReturn) -> Connection:
        """The console hands back what the platform's redirect carried, with the user's
        own token: the state must be one this very user started (so a link made by someone
        else cannot connect the victim's account to the attacker's, or the reverse)."""
        with self._attempt(caller):
            provider = self._oauth_provider(platform)
            pending = self._states.consume(returned.state, platform, caller.user_id)
            if returned.error and "security error" in returned.error.lower():
                raise ConnectionCheckFailed(VK_APP_REFUSED, {"reason": returned.error}, code="VK_APP_REFUSED")
            if returned.error or not (returned.code or returned.access_token):
                raise OAuthStateInvalid(
                    "Подключение отменено на стороне платформы", {"reason": returned.error or "no_grant"}
                )
            grant = OAuthGrant(
                redirect_uri=pending.redirect_uri,
                verifier=pending.verifier.get_secret_value(),
                code=returned.code,
                device_id=returned.device_id,
                access_token=returned.access_token,
                expires_in=returned.expires_in,
            )
            credentials, account = _checked(lambda: provider.complete(grant))
            connection = self._connections.connect(caller.user_id, platform, account, credentials)
            logger.info("platform connected", extra={"platform": platform.value, "user": caller.user_id})
            return connection

    def _oauth_provider(self, platform: Platform) -> OAuthProvider:
        if platform not in OAUTH_PLATFORMS:
            raise OAuthNotSupported(details={"platform": platform.value})
        return self._providers(platform)  # type: ignore[return-value]

    # -- where VK posts go ----------------------------------------------------------------

    def vk_destinations(self, caller: Caller) -> list[tuple[int, str]]:
        """The communities the user administers or edits, where clips can go instead of
        their own page."""
        _, credentials = self._active_credentials(caller, Platform.VK)
        provider: VkProvider = self._providers(Platform.VK)  # type: ignore[assignment]
        return _checked(lambda: provider.communities(credentials))

    def set_vk_destination(self, caller: Caller, community_id: int | None) -> Connection:
        connection, _ = self._active_credentials(caller, Platform.VK)
        name = ""
        if community_id is not None:
            communities = dict(self.vk_destinations(caller))
            if community_id not in communities:
                raise ConnectionCheckFailed(
                    "Публиковать можно только в сообщество, где вы администратор или редактор",
                    {"communityId": community_id},
                )
            name = communities[community_id]
        return self._connections.set_extra(
            connection, {"group_id": str(community_id) if community_id else "", "group_name": name}
        )

    def _active_credentials(self, caller: Caller, platform: Platform) -> tuple[Connection, Credentials]:
        found = self._connections.credentials(caller.user_id, platform)
        if found is None:
            raise PlatformNotConnected(details={"platform": platform.value})
        if not found[0].is_active:
            raise ConnectionCheckFailed("Токен истёк, переподключите платформу")
        return found

    # -- forms ----------------------------------------------------------------------------

    def connect_telegram(self, caller: Caller, channel: str, bot_token: SecretStr) -> Connection:
        """With the user's own bot: its being an administrator of the channel who may post
        is the proof of control."""
        with self._attempt(caller):
            credentials = Credentials(access_token=bot_token, extra={"channel": channel})
            account = _checked(lambda: self._providers(Platform.TELEGRAM).check(credentials))
            account = Account(account.account_id, account.name, {**account.extra, "channel": channel})
            return self._channels.connect_with_own_bot(caller.user_id, account, credentials)

    def telegram_proof(self, caller: Caller, channel: str) -> Proof:
        """Through the service's bot: a code the user posts in the channel (README). No
        credential of the user's is tried: it counts as an attempt, never as a refused one."""
        self._rate_limiter.hit(self._any_budget, caller.user_id)
        return _checked(lambda: self._channels.start_proof(caller.user_id, channel))

    def telegram_update(self, update: dict[str, object]) -> bool:
        return self._channels.confirm(update)

    def connect_rutube(
        self,
        caller: Caller,
        *,
        token: SecretStr | None = None,
        login: str | None = None,
        password: SecretStr | None = None,
    ) -> Connection:
        """With an API token, or a login and password exchanged once for one (the password
        goes to Rutube and nowhere else: it is not stored or logged)."""
        with self._attempt(caller):
            provider: RutubeProvider = self._providers(Platform.RUTUBE)  # type: ignore[assignment]
            if token is None:
                if not login or password is None:
                    raise ConnectionCheckFailed("Укажите API-токен Rutube или логин и пароль")
                token = _checked(lambda: provider.token_for(login, password))
            credentials = Credentials(access_token=token, extra={"login": login} if login else {})
            account = _checked(lambda: provider.check(credentials))
            return self._connections.connect(caller.user_id, Platform.RUTUBE, account, credentials)

    def connect_vk_session(self, caller: Caller, session: SecretStr) -> Connection:
        """The signed-in VK session (the Cookie header of a vkvideo.ru page): only its own
        cookies are kept, checked by minting a web token and reading whose it is."""
        with self._attempt(caller):
            cookies = SecretStr(_checked(lambda: session_cookies(session.get_secret_value())))
            credentials = Credentials(access_token=cookies, extra={"auth": SESSION_AUTH})
            account = _checked(lambda: self._providers(Platform.VK).check(credentials))
            credentials = Credentials(
                access_token=cookies, account_id=account.account_id, extra=account.extra
            )
            connection = self._connections.connect(caller.user_id, Platform.VK, account, credentials)
            logger.info("platform connected", extra={"platform": Platform.VK.value, "method": SESSION_AUTH})
            return connection

    def connect_dzen(self, caller: Caller, session: SecretStr, publisher_id: str | None) -> Connection:
        """The studio's session (the Cookie header of a logged-in dzen.ru page), checked by
        a real call and stored encrypted like any token."""
        with self._attempt(caller):
            extra = {"publisher_id": publisher_id} if publisher_id else {}
            credentials = Credentials(access_token=session, extra=extra)
            account = _checked(lambda: self._providers(Platform.DZEN).check(credentials))
            credentials = Credentials(access_token=session, extra={**extra, **account.extra})
            return self._connections.connect(caller.user_id, Platform.DZEN, account, credentials)

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
            except PublicationChanged:
                continue  # it started publishing meanwhile
            self._orchestrator.stop(stopped, cause=DISCONNECT_CAUSE)
            cancelled += 1
        connection = self._connections.get(caller.user_id, platform)
        self._connections.delete(caller.user_id, platform)
        if platform is Platform.TELEGRAM and connection is not None:
            self._channels.release(caller.user_id, connection.account_id)
        logger.info("platform disconnected", extra={"platform": platform.value, "cancelled": cancelled})
        return cancelled


def _checked(call: Callable[[], T]) -> T:
    """A platform check in the user's terms: a bad token or refusal is 422, an outage 503."""
    try:
        return call()
    except TokenExpired as exc:
        message = exc.message
        if message == TokenExpired.default_message:
            message = "Платформа не приняла токен: проверьте его и попробуйте снова"
        raise CredentialRefused(message, code=exc.code) from exc
    except Rejected as exc:
        raise ConnectionCheckFailed(exc.message, code=exc.code) from exc
    except PlatformError as exc:
        raise PlatformTemporarilyUnavailable(exc.message) from exc
