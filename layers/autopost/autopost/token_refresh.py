"""Refreshing a connection's tokens when a platform says they expired, safe when two
workers do it at once: the row's version decides whose pair is kept, and the other
worker uses that pair rather than its own (or a failed) refresh."""

from __future__ import annotations

from autopost.errors import TokenExpired
from autopost.models import Connection
from autopost.observability import logger
from autopost.providers.base import Credentials, Provider
from autopost.storage.connections import ConnectionRepository


class TokenRefresher:
    def __init__(self, connections: ConnectionRepository) -> None:
        self._connections = connections

    def refresh(
        self, provider: Provider, connection: Connection, stale: Credentials
    ) -> tuple[Connection, Credentials]:
        """New credentials for `connection`, or TokenExpired after marking it expired."""
        try:
            fresh = provider.refresh(stale)
        except TokenExpired:
            newer = self._newer(connection)
            if newer is not None:
                return newer  # another worker refreshed first and used up the refresh token
            self._connections.mark_expired(connection)
            logger.info("connection expired", extra={"platform": connection.platform.value})
            raise
        if self._connections.store_refreshed(connection, fresh):
            stored = self._connections.credentials(connection.user_id, connection.platform)
            if stored is not None:
                return stored
        newer = self._newer(connection)
        if newer is None:
            raise TokenExpired()
        return newer

    def _newer(self, connection: Connection) -> tuple[Connection, Credentials] | None:
        current = self._connections.credentials(connection.user_id, connection.platform)
        if current is None or current[0].version == connection.version or not current[0].is_active:
            return None
        return current
