"""Webhook endpoints and their recent deliveries (WebhooksTable).

- endpoint: pk `user#{user}`, sk `endpoint#{id}`; payload {url, eventTypes, slot}; the
  signing secret encrypted (autopost.infra.crypto) with the row's identity as associated data.
- slot: pk `user#{user}`, sk `slot#{0-4}`, payload = the endpoint's id. An endpoint is
  created in one transaction with a free slot, so five is the limit under any concurrency.
- delivery: pk `endpoint#{id}`, sk `delivery#{at}#{event id}#{attempt}`; payload the outcome;
  expires after 30 days (TTL), read newest first.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from autopost.domain.clock import from_iso, to_iso, utcnow
from autopost.domain.errors import WebhookLimitReached
from autopost.domain.webhooks import DELIVERIES_SHOWN, DELIVERY_DAYS, MAX_ENDPOINTS, Delivery, Endpoint
from autopost.infra.crypto import CipherSource, TokenContext, cipher_of, decrypt_with
from autopost.infra.settings import Settings
from autopost.infra.webhook_signing import new_secret
from autopost.storage.tables import records, transactions

ENDPOINT, SLOT, DELIVERY = "endpoint#", "slot#", "delivery#"
# Each lost race means another request took a slot: after five, none is left to race for.
_CREATE_ATTEMPTS = MAX_ENDPOINTS + 1


class WebhookRepository:
    def __init__(self, settings: Settings, cipher: CipherSource | None = None) -> None:
        self._settings = settings
        self._record = records(settings).webhook
        self._cipher = cipher

    # -- endpoints ------------------------------------------------------------------------

    def create(self, user_id: str, url: str, event_types: tuple[str, ...]) -> tuple[Endpoint, SecretStr]:
        """A new endpoint and its secret (returned this once, stored encrypted only)."""
        record = self._record
        for _ in range(_CREATE_ATTEMPTS):
            taken = {int(item.sk[len(SLOT) :]) for item in self._query(user_id, SLOT)}
            free = [slot for slot in range(MAX_ENDPOINTS) if slot not in taken]
            if not free:
                raise WebhookLimitReached(details={"max": MAX_ENDPOINTS})
            # Any free slot: concurrent requests rarely pick the same one.
            chosen = secrets.choice(free)
            endpoint_id = "wh_" + secrets.token_hex(12)
            secret = new_secret()
            now = utcnow()
            item = record(
                _user_key(user_id),
                ENDPOINT + endpoint_id,
                user_id=user_id,
                payload=json.dumps({"url": url, "eventTypes": list(event_types), "slot": chosen}),
                secret=cipher_of(self._require_cipher()).encrypt(secret, _context(user_id, endpoint_id)),
                created_at=to_iso(now),
            )
            slot = record(_user_key(user_id), f"{SLOT}{chosen}", user_id=user_id, payload=endpoint_id)
            try:
                with TransactWrite(connection=transactions(self._settings)) as tx:
                    tx.save(slot, condition=record.sk.does_not_exist())
                    tx.save(item, condition=record.sk.does_not_exist())
            except TransactWriteError as exc:
                if exc.cause_response_code != "TransactionCanceledException":
                    raise
                continue  # another request took the slot meanwhile: look again
            return _to_endpoint(item), secret
        raise WebhookLimitReached(details={"max": MAX_ENDPOINTS})

    def list_for_user(self, user_id: str) -> list[Endpoint]:
        endpoints = [_to_endpoint(item) for item in self._query(user_id, ENDPOINT)]
        return sorted(endpoints, key=lambda e: (e.created_at, e.endpoint_id))

    def get(self, user_id: str, endpoint_id: str) -> Endpoint | None:
        item = self._load(user_id, endpoint_id)
        return _to_endpoint(item) if item is not None else None

    def with_secret(self, user_id: str, endpoint_id: str) -> tuple[Endpoint, SecretStr] | None:
        """For signing a delivery; None once the endpoint is deleted."""
        item = self._load(user_id, endpoint_id)
        if item is None:
            return None
        secret = decrypt_with(self._require_cipher(), item.secret, _context(user_id, endpoint_id))
        return _to_endpoint(item), secret

    def delete(self, user_id: str, endpoint_id: str) -> bool:
        """The endpoint and its slot; its deliveries expire with their TTL."""
        item = self._load(user_id, endpoint_id)
        if item is None:
            return False
        slot = json.loads(item.payload).get("slot")
        record = self._record
        try:
            with TransactWrite(connection=transactions(self._settings)) as tx:
                tx.delete(item, condition=record.sk.exists())
                if slot is not None:
                    tx.delete(record(_user_key(user_id), f"{SLOT}{slot}"))
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                return False  # deleted by another request meanwhile
            raise
        return True

    # -- deliveries -----------------------------------------------------------------------

    def record_delivery(self, endpoint_id: str, delivery: Delivery) -> None:
        self._record(
            ENDPOINT + endpoint_id,
            f"{DELIVERY}{to_iso(delivery.at)}#{delivery.event_id}#{delivery.attempt}",
            payload=json.dumps(
                {
                    "eventId": delivery.event_id,
                    "type": delivery.type,
                    "at": to_iso(delivery.at),
                    "attempt": delivery.attempt,
                    "statusCode": delivery.status_code,
                    "ok": delivery.ok,
                    "error": delivery.error,
                    "publicationId": delivery.publication_id,
                    "clipId": delivery.clip_id,
                    "platform": delivery.platform,
                },
                ensure_ascii=False,
            ),
            created_at=to_iso(delivery.at),
            expires_at=delivery.at + timedelta(days=DELIVERY_DAYS),
        ).save()

    def deliveries(self, endpoint_id: str, limit: int = DELIVERIES_SHOWN) -> list[Delivery]:
        """The latest attempts, newest first."""
        items = self._record.query(
            ENDPOINT + endpoint_id,
            self._record.sk.startswith(DELIVERY),
            scan_index_forward=False,
            limit=limit,
        )
        return [_to_delivery(item) for item in items]

    # -- helpers --------------------------------------------------------------------------

    # -- key rotation (autopost.maintenance.rotation) ------------------------------------------------

    def scan_page(self, start: dict[str, Any] | None, limit: int) -> tuple[list[Any], dict[str, Any] | None]:
        """A page of endpoint rows (those holding a secret) for the rotation command."""
        record = self._record
        page = record.scan(filter_condition=record.secret.exists(), limit=limit, last_evaluated_key=start)
        rows = list(page)
        return rows, page.last_evaluated_key

    def ciphertexts(self, row: Any) -> list[str]:
        return [row.secret] if row.secret else []

    def reencrypt(self, row: Any) -> bool:
        """Re-encrypt one endpoint's secret with the current key; False if it already was (or
        the endpoint is gone). Written only over the ciphertext it read: a row changed
        meanwhile is read again."""
        cipher, record = cipher_of(self._require_cipher()), self._record
        for _ in range(_CREATE_ATTEMPTS):
            if row is None or not row.secret or cipher.is_current(row.secret):
                return False
            context = _context(row.user_id, row.sk[len(ENDPOINT) :])
            fresh = cipher.encrypt(cipher.decrypt(row.secret, context), context)
            try:
                row.update(actions=[record.secret.set(fresh)], condition=record.secret == row.secret)
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                row = self._load(row.user_id, row.sk[len(ENDPOINT) :])
                continue
            return True
        raise RuntimeError("a webhook endpoint kept changing during re-encryption")

    def _query(self, user_id: str, prefix: str) -> list[Any]:
        return list(
            self._record.query(_user_key(user_id), self._record.sk.startswith(prefix), consistent_read=True)
        )

    def _load(self, user_id: str, endpoint_id: str) -> Any:
        try:
            return self._record.get(_user_key(user_id), ENDPOINT + endpoint_id, consistent_read=True)
        except self._record.DoesNotExist:
            return None

    def _require_cipher(self) -> CipherSource:
        if self._cipher is None:
            raise RuntimeError("this repository was built without a token cipher")
        return self._cipher


def _user_key(user_id: str) -> str:
    return f"user#{user_id}"


def _context(user_id: str, endpoint_id: str) -> TokenContext:
    # Bound into the ciphertext: a secret copied into another endpoint's row does not decrypt.
    return TokenContext(user_id=user_id, platform="webhook", field=endpoint_id)


def _to_endpoint(item: Any) -> Endpoint:
    payload = json.loads(item.payload)
    return Endpoint(
        endpoint_id=item.sk[len(ENDPOINT) :],
        user_id=item.user_id,
        url=payload["url"],
        event_types=tuple(payload.get("eventTypes") or ()),
        created_at=from_iso(item.created_at),
    )


def _to_delivery(item: Any) -> Delivery:
    payload = json.loads(item.payload)
    return Delivery(
        event_id=payload["eventId"],
        type=payload["type"],
        at=from_iso(payload["at"]),
        attempt=int(payload["attempt"]),
        status_code=payload.get("statusCode"),
        ok=bool(payload["ok"]),
        error=payload.get("error"),
        publication_id=payload.get("publicationId"),
        clip_id=payload.get("clipId"),
        platform=payload.get("platform"),
    )
