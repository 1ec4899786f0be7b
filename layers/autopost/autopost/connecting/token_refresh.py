"""Refreshing a connection's tokens when a platform says they expired, safe when several
workers need it at once. Refresh tokens are often single use, so only one worker may call
the platform: it holds a short lease (a control item), re-reads the row first (someone may
have refreshed already), and stores the new pair while the row still holds the grant it
refreshed (its generation): a key rotation or a settings change in between does not cost
the fresh pair, which is the only good one once the platform has spent the old refresh
token. The others wait for the generation to move and use that pair."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from pynamodb.exceptions import DeleteError, PutError

from autopost.domain.clock import utcnow
from autopost.domain.errors import PlatformUnavailable, TokenExpired
from autopost.domain.models import Connection, Credentials
from autopost.infra.observability import logger
from autopost.infra.settings import Settings
from autopost.providers.base import Provider
from autopost.storage.connections import ConnectionRepository
from autopost.storage.tables import records

LEASE = timedelta(seconds=30)
WAIT_SECONDS = 20.0
POLL_SECONDS = 0.2


class TokenRefresher:
    def __init__(
        self, settings: Settings, connections: ConnectionRepository, lease: timedelta = LEASE
    ) -> None:
        self._connections = connections
        self._control = records(settings).control
        self._lease = lease

    def refresh(
        self, provider: Provider, connection: Connection, stale: Credentials
    ) -> tuple[Connection, Credentials]:
        """New credentials for `connection`, or TokenExpired after marking it expired."""
        deadline = time.monotonic() + WAIT_SECONDS
        lease = f"refresh#{connection.user_id}#{connection.platform.value}"
        while True:
            newer = self._newer(connection)
            if newer is not None:
                return newer
            owner = self._take(lease)
            if owner is not None:
                try:
                    return self._refresh_holding_lease(provider, connection, stale)
                finally:
                    self._release(lease, owner)
            if time.monotonic() > deadline:
                raise PlatformUnavailable("Не удалось обновить токен платформы, попробуем позже")
            time.sleep(POLL_SECONDS)

    def _refresh_holding_lease(
        self, provider: Provider, connection: Connection, stale: Credentials
    ) -> tuple[Connection, Credentials]:
        newer = self._newer(connection)
        if newer is not None:
            return newer
        try:
            fresh = provider.refresh(stale)
        except TokenExpired:
            if not self._connections.mark_expired(connection):
                # Another grant arrived meanwhile (a reconnect, or a refresh whose lease we
                # outlived): that one is good.
                newer = self._newer(connection)
                if newer is not None:
                    return newer
            logger.info("connection expired", extra={"platform": connection.platform.value})
            raise
        if not self._connections.store_refreshed(connection, fresh):
            # The row holds another grant now (or is gone: then TokenExpired).
            newer = self._newer(connection)
            if newer is None:
                raise TokenExpired()
            return newer
        stored = self._connections.credentials(connection.user_id, connection.platform)
        if stored is None:
            raise TokenExpired()
        return stored

    def _take(self, lease: str) -> str | None:
        """The lease's owner token if we got it (free, or its holder's time ran out)."""
        control, now, owner = self._control, utcnow(), secrets.token_hex(16)
        try:
            control(lease, payload=owner, expires_at=now + self._lease).save(
                condition=control.pk.does_not_exist() | (control.expires_at < now)
            )
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        return owner

    def _release(self, lease: str, owner: str) -> None:
        """Give the lease back only if it is still ours: a refresh that outlived its lease
        must not free the one another worker has taken since."""
        control = self._control
        try:
            control(lease).delete(condition=control.payload == owner)
        except DeleteError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            logger.info("refresh lease was no longer ours", extra={"lease": lease.split("#")[-1]})

    def _newer(self, connection: Connection) -> tuple[Connection, Credentials] | None:
        """The row's credentials if it holds another grant than `connection` did (another
        worker refreshed, or the user reconnected); TokenExpired if meanwhile it was
        disconnected, or the new grant was found expired."""
        current = self._connections.credentials(connection.user_id, connection.platform)
        if current is None:
            raise TokenExpired()
        if current[0].generation == connection.generation:
            return None
        if not current[0].is_active:
            raise TokenExpired()
        return current
