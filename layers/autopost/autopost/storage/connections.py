"""Platform connections (tokens are stored encrypted; this module never returns them)."""

from __future__ import annotations

from typing import Any

from autopost.clock import from_iso, to_iso
from autopost.models import Connection, ConnectionStatus
from autopost.platforms import Platform
from autopost.settings import Settings
from autopost.storage.tables import records


class ConnectionRepository:
    def __init__(self, settings: Settings) -> None:
        self._record = records(settings).connection

    def get(self, user_id: str, platform: Platform) -> Connection | None:
        try:
            return _to_connection(self._record.get(user_id, platform.value))
        except self._record.DoesNotExist:
            return None

    def put(self, connection: Connection) -> None:
        """Store a connection's public fields (tokens are written with them by the connect flow)."""
        self._record(
            connection.user_id,
            connection.platform.value,
            status=connection.status.value,
            account_id=connection.account_id,
            account_name=connection.account_name,
            expires_at=to_iso(connection.expires_at) if connection.expires_at else None,
            connected_at=to_iso(connection.connected_at),
        ).save()

    def list_for_user(self, user_id: str) -> list[Connection]:
        return [_to_connection(item) for item in self._record.query(user_id)]


def _to_connection(record: Any) -> Connection:
    return Connection(
        user_id=record.user_id,
        platform=Platform(record.platform),
        status=ConnectionStatus(record.status),
        account_id=record.account_id,
        account_name=record.account_name or "",
        expires_at=from_iso(record.expires_at) if record.expires_at else None,
        connected_at=from_iso(record.connected_at),
        version=int(record.version or 1),
    )
