"""One-off data migrations an operator runs after deploying:
`python -m autopost.maintenance.migrations <name>`.

`unproven-telegram-channels`: Telegram connections made through the service's bot before a
channel had to be proven (a posted code) hold no claim on their channel, so anyone who knew
a channel's name could have connected it. Each such connection whose channel is not bound
to its user is marked expired: the console asks the user to connect the channel again with
a code, and the worker refuses to post through it meanwhile. Safe to run again.

`webhook-secrets-own-key`: webhook signing secrets stored before they had a key of their own
(under the platform tokens' key) are re-encrypted with the webhook key: a rotation from the
one key to the other. Run it once after deploying, with both keys readable (an operator's
role); until then those endpoints' deliveries fail and are retried. Safe to run again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from autopost.connecting.telegram_channels import SERVICE_BOT
from autopost.domain.models import ConnectionStatus
from autopost.domain.platforms import Platform
from autopost.infra.crypto import TokenCipher
from autopost.infra.secrets import token_secrets, webhook_secrets
from autopost.infra.settings import Settings, get_settings
from autopost.maintenance.rotation import WEBHOOKS, Rotation, RotationReport
from autopost.storage.channel_claims import ChannelClaims
from autopost.storage.connections import ConnectionRepository

PAGE_SIZE = 100


@dataclass
class MigrationReport:
    checked: int = 0
    proven: int = 0
    expired: int = 0


def expire_unproven_telegram_channels(settings: Settings, page_size: int = PAGE_SIZE) -> MigrationReport:
    connections, claims = ConnectionRepository(settings), ChannelClaims(settings)
    report, start = MigrationReport(), None
    while True:
        rows, start = connections.scan_page(start, page_size)
        for row in rows:
            extra = row.extra.as_dict() if row.extra else {}
            if row.platform != Platform.TELEGRAM.value or not extra.get(SERVICE_BOT):
                continue
            report.checked += 1
            if claims.held_by(str(extra.get("chat_id", row.account_id)), row.user_id):
                report.proven += 1
                continue
            connection = connections.get(row.user_id, Platform.TELEGRAM)
            if connection is not None and connection.status is ConnectionStatus.ACTIVE:
                report.expired += int(connections.mark_expired(connection))
        if start is None:
            return report


def move_webhook_secrets_to_their_key(settings: Settings) -> RotationReport:
    current, previous = webhook_secrets(settings)
    token, token_previous = token_secrets(settings)
    # The webhook key writes; every key a secret may still be under reads.
    cipher = TokenCipher(current, [*previous, token, *token_previous])
    return Rotation(settings, cipher, WEBHOOKS).run()


MIGRATIONS: dict[str, Callable[[Settings], Any]] = {
    "unproven-telegram-channels": expire_unproven_telegram_channels,
    "webhook-secrets-own-key": move_webhook_secrets_to_their_key,
}


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in MIGRATIONS:
        raise SystemExit(f"usage: python -m autopost.maintenance.migrations {{{'|'.join(MIGRATIONS)}}}")
    print(json.dumps(asdict(MIGRATIONS[argv[0]](get_settings()))))


if __name__ == "__main__":
    main(sys.argv[1:])
