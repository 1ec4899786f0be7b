"""Standard Webhooks signatures (spec, "Signature scheme":
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is HMAC-SHA256
with the endpoint's secret, sent as `v1,{base64}`. The secret is `whsec_` + base64 of random
bytes (the spec asks for 24 to 64; we use 32). The `standardwebhooks` package (the spec's own
reference library, no dependencies) computes it; receivers verify with the same package.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from pydantic import SecretStr
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> SecretStr:
    return SecretStr(SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode())


def signed_headers(
    secret: SecretStr, message_id: str, body: str, at: datetime | None = None
) -> dict[str, str]:
    """The three headers of one attempt: the id stays the event's, the timestamp is the
    attempt's (a receiver refuses one more than five minutes off its clock)."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    signature = Webhook(secret.get_secret_value()).sign(message_id, moment, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }
