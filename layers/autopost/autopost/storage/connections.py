"""Platform connections. Tokens are stored encrypted (autopost.infra.crypto) and leave this module
only as SecretStr inside Credentials; `version` guards every write against a racing one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from pynamodb.exceptions import DeleteError, PutError

from autopost.domain.clock import from_iso, to_iso, utcnow
from autopost.domain.models import Account, Connection, ConnectionStatus, Credentials
from autopost.domain.platforms import Platform
from autopost.infra.crypto import CipherSource, TokenCipher, TokenContext, cipher_of, decrypt_with
from autopost.infra.settings import Settings
from autopost.storage.errors import ConnectionChanged
from autopost.storage.tables import records

CONFLICT = "ConditionalCheckFailedException"
# What a user chose for a connection (set_extra): kept when they reconnect the same account.
SETTINGS = frozenset({"group_id", "group_name"})
# Decrypted connections kept in a warm Lambda environment (the seed's Redis cache, 5 min).
CACHE_SECONDS = 300.0
# Each conflict means another write landed; a row rewritten this often in a row is a bug.
REWRITE_ATTEMPTS = 20


@dataclass
class _Cached:
    connection: Connection
    credentials: Credentials
    stored_at: float


# Shared by every repository of this environment: a write through any of them forgets the
# row, and a read re-checks the row's version, so another environment's write is seen too.
_cache: dict[tuple[str, str, str], _Cached] = {}
_cache_lock = threading.Lock()


class ConnectionRepository:
    def __init__(
        self, settings: Settings, cipher: CipherSource | None = None, clock: Any = time.monotonic
    ) -> None:
        self._record = records(settings).connection
        self._table = settings.connections_table
        self._cipher = cipher
        self._clock = clock

    # -- reads ----------------------------------------------------------------------------

    def get(self, user_id: str, platform: Platform) -> Connection | None:
        record = self._load(user_id, platform)
        return _to_connection(record) if record else None

    def list_for_user(self, user_id: str) -> list[Connection]:
        return [_to_connection(item) for item in self._record.query(user_id)]

    def cached_credentials(self, user_id: str, platform: Platform) -> tuple[Connection, Credentials] | None:
        """Credentials from this environment's cache when younger than 5 minutes and the
        row's version is still the cached one (a small read, no decryption); else fresh."""
        key = (self._table, user_id, platform.value)
        with _cache_lock:
            entry = _cache.get(key)
        if entry is not None and self._clock() - entry.stored_at < CACHE_SECONDS:
            current = self._version(user_id, platform)
            if current == (entry.connection.version, entry.connection.status.value):
                return entry.connection, entry.credentials
        found = self.credentials(user_id, platform)
        with _cache_lock:
            if found is None:
                _cache.pop(key, None)
            else:
                _cache[key] = _Cached(found[0], found[1], self._clock())
        return found

    def _version(self, user_id: str, platform: Platform) -> tuple[int, str] | None:
        try:
            item = self._record.get(
                user_id, platform.value, consistent_read=True, attributes_to_get=["version", "status"]
            )
        except self._record.DoesNotExist:
            return None
        return int(item.version), item.status

    def _forget(self, user_id: str, platform: Platform | str) -> None:
        with _cache_lock:
            _cache.pop((self._table, user_id, Platform(platform).value), None)

    def credentials(self, user_id: str, platform: Platform) -> tuple[Connection, Credentials] | None:
        record = self._load(user_id, platform)
        if record is None:
            return None
        tokens = record.tokens.as_dict() if record.tokens else {}
        source = self._source()
        access = (
            decrypt_with(source, tokens["access"], _context(record, "access"))
            if tokens.get("access")
            else SecretStr("")
        )
        refresh = (
            decrypt_with(source, tokens["refresh"], _context(record, "refresh"))
            if tokens.get("refresh")
            else None
        )
        connection = _to_connection(record)
        return connection, Credentials(
            access_token=access,
            refresh_token=refresh,
            expires_at=connection.expires_at,
            account_id=connection.account_id,
            extra=connection.extra,
        )

    # -- writes ---------------------------------------------------------------------------

    def connect(
        self, user_id: str, platform: Platform, account: Account, credentials: Credentials
    ) -> Connection:
        """Store a new connection, or replace the tokens of an existing one (reconnect: the
        same account keeps its settings, such as where VK posts go, and nothing else of the
        grant it replaces, such as posting through the service's bot). The tokens are a new
        grant, just handed out by the platform: a racing rewrite never loses them."""

        def change(record: Any) -> bool:
            kept = (
                {k: v for k, v in _extra_of(record).items() if k in SETTINGS}
                if record.account_id == account.account_id
                else {}
            )
            record.status = ConnectionStatus.ACTIVE.value
            record.account_id = account.account_id
            record.account_name = account.name
            record.connected_at = to_iso(utcnow())
            record.expires_at = to_iso(credentials.expires_at) if credentials.expires_at else None
            record.extra = {**kept, **credentials.extra, **account.extra}
            record.generation = _generation(record) + 1
            record.tokens = self._encrypt(record, credentials)
            return True

        record = self._rewrite(user_id, platform, change, create=True)
        return _to_connection(record)

    def set_extra(self, connection: Connection, changes: dict[str, str]) -> Connection:
        """Change a connection's settings (empty values remove them), if the row is still
        the one `connection` was read from."""
        record = self._load(connection.user_id, connection.platform)
        if record is None or int(record.version) != connection.version:
            raise ConnectionChanged(user=connection.user_id, platform=connection.platform.value)
        extra = {**_extra_of(record), **changes}
        record.extra = {k: v for k, v in extra.items() if v}
        self._forget(connection.user_id, connection.platform)
        try:
            record.save()
        except PutError as exc:
            if exc.cause_response_code == CONFLICT:
                raise ConnectionChanged(user=connection.user_id, platform=connection.platform.value) from exc
            raise
        return _to_connection(record)

    def store_refreshed(self, connection: Connection, credentials: Credentials) -> bool:
        """Save refreshed tokens while the row still holds the grant they were refreshed
        from (`connection.generation`), whatever else rewrote it meanwhile (a rotation, a
        settings change, an expiry mark: the old refresh token is dead now, so these fresh
        ones are the only good ones). False when the grant changed: another worker refreshed
        first, or the user reconnected or disconnected; read the row's tokens instead."""

        def change(record: Any) -> bool:
            if _generation(record) != connection.generation:
                return False
            record.tokens = self._encrypt(record, credentials)
            record.expires_at = to_iso(credentials.expires_at) if credentials.expires_at else None
            record.status = ConnectionStatus.ACTIVE.value
            record.generation = connection.generation + 1
            return True

        return self._rewrite(connection.user_id, connection.platform, change) is not None

    def mark_expired(self, connection: Connection, at: datetime | None = None) -> bool:
        """The platform refused the token and it could not be refreshed: `expiresAt = now`.
        False when the grant changed meanwhile (another worker refreshed, or a reconnect)."""

        def change(record: Any) -> bool:
            if _generation(record) != connection.generation:
                return False
            record.status = ConnectionStatus.EXPIRED.value
            record.expires_at = to_iso(at or utcnow())
            return True

        return self._rewrite(connection.user_id, connection.platform, change) is not None

    def delete(self, user_id: str, platform: Platform) -> bool:
        # PynamoDB conditions a versioned delete on the version it holds: delete what was read.
        record = self._load(user_id, platform)
        self._forget(user_id, platform)
        if record is None:
            return False
        try:
            record.delete()
        except DeleteError as exc:
            if exc.cause_response_code == CONFLICT:
                return False
            raise
        return True

    # -- rotation -------------------------------------------------------------------------

    def scan_page(self, start: dict[str, Any] | None, limit: int) -> tuple[list[Any], dict[str, Any] | None]:
        """A page of raw rows for the rotation command (an admin job, so a scan)."""
        page = self._record.scan(limit=limit, last_evaluated_key=start)
        rows = list(page)
        return rows, page.last_evaluated_key

    def reencrypt(self, row: Any) -> bool:
        """Re-encrypt one row with the current key; False if it already was (or is gone).
        A row someone changed meanwhile is read again and checked again: its writer may
        still have used the old key."""
        cipher = self._require_cipher()

        def change(record: Any) -> bool:
            tokens = record.tokens.as_dict() if record.tokens else {}
            if all(cipher.is_current(value) for value in tokens.values() if value):
                return False
            record.tokens = {
                field: cipher.encrypt(cipher.decrypt(value, _context(record, field)), _context(record, field))
                for field, value in tokens.items()
                if value
            }
            return True

        return self._rewrite(row.user_id, Platform(row.platform), change, first=row) is not None

    def ciphertexts(self, row: Any) -> list[str]:
        return [v for v in (row.tokens.as_dict() if row.tokens else {}).values() if v]

    # -- helpers --------------------------------------------------------------------------

    def _rewrite(
        self,
        user_id: str,
        platform: Platform,
        change: Callable[[Any], bool],
        *,
        create: bool = False,
        first: Any = None,
    ) -> Any:
        """Apply `change` to the row and save it under the version it was read at; when
        another writer got in between, read the row again and apply `change` to that. So
        every write is decided on the row it lands on. None when `change` declines (or the
        row is gone and `create` is off)."""
        record = first
        for _ in range(REWRITE_ATTEMPTS):
            if record is None:
                record = self._load(user_id, platform)
            if record is None:
                if not create:
                    return None
                record = self._record(user_id, platform.value)
            if not change(record):
                return None
            self._forget(user_id, platform)
            try:
                record.save()  # conditioned on the version read (or on the row's absence)
            except PutError as exc:
                if exc.cause_response_code != CONFLICT:
                    raise
                record = None
                continue
            return record
        raise RuntimeError(f"connection {user_id}/{platform.value} kept changing under every write")

    def _load(self, user_id: str, platform: Platform) -> Any:
        try:
            return self._record.get(user_id, platform.value, consistent_read=True)
        except self._record.DoesNotExist:
            return None

    def _source(self) -> CipherSource:
        if self._cipher is None:
            raise RuntimeError("this repository was built without a token cipher")
        return self._cipher

    def _require_cipher(self) -> TokenCipher:
        return cipher_of(self._source())

    def _encrypt(self, record: Any, credentials: Credentials) -> dict[str, str]:
        cipher = self._require_cipher()
        tokens = {"access": cipher.encrypt(credentials.access_token, _context(record, "access"))}
        if credentials.refresh_token is not None and credentials.refresh_token.get_secret_value():
            tokens["refresh"] = cipher.encrypt(credentials.refresh_token, _context(record, "refresh"))
        return tokens


def _context(record: Any, field: str) -> TokenContext:
    return TokenContext(user_id=record.user_id, platform=record.platform, field=field)


def _generation(record: Any) -> int:
    return int(record.generation or 0)


def _extra_of(record: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (record.extra.as_dict() if record.extra else {}).items()}


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
        generation=_generation(record),
        extra=_extra_of(record),
        refreshable=bool(record.tokens and record.tokens.as_dict().get("refresh")),
    )
