"""Re-encrypt every secret a key protects with its current value:
`python -m autopost.maintenance.rotation` (platform tokens) or
`python -m autopost.maintenance.rotation webhooks` (webhook signing secrets, which have a key
of their own).

Run it after putting a new value in the key's secret (Secrets Manager keeps the old one as
`AWSPREVIOUS`; locally, PLATFORM_TOKEN_PREVIOUS_SECRETS or WEBHOOK_SECRET_PREVIOUS_KEYS). It
records its scan position in the control table after every page, so a crashed run resumes
where it stopped; rows already under the current key are skipped, rows changed meanwhile are
read again. Once the scan is through, a verification pass reads every row again (warm
environments may have written with the old key until they noticed the new one):
`"finished": true` only when a pass finds no row under another key. Only then may the
previous key go.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Protocol

from autopost.infra.crypto import TokenCipher
from autopost.infra.secrets import token_cipher, webhook_cipher
from autopost.infra.settings import Settings, get_settings
from autopost.storage.connections import ConnectionRepository
from autopost.storage.tables import records
from autopost.storage.webhooks import WebhookRepository

PAGE_SIZE = 25
VERIFY_PASSES = 3
TOKENS, WEBHOOKS = "tokens", "webhooks"


class EncryptedRows(Protocol):
    """Rows holding ciphertexts under one key: connections (tokens), webhook endpoints."""

    def scan_page(
        self, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[Any], dict[str, Any] | None]: ...

    def ciphertexts(self, row: Any) -> list[str]: ...

    def reencrypt(self, row: Any) -> bool: ...


@dataclass
class RotationReport:
    key_id: str
    rotated: int = 0
    skipped: int = 0
    pages: int = 0
    resumed: bool = False
    # Rows the verification found still under an old key (and re-encrypted).
    stragglers: int = 0
    finished: bool = False


class Rotation:
    def __init__(self, settings: Settings, cipher: TokenCipher, secrets: str = TOKENS) -> None:
        self._rows: EncryptedRows = (
            WebhookRepository(settings, cipher)
            if secrets == WEBHOOKS
            else ConnectionRepository(settings, cipher)
        )
        self._cipher = cipher
        self._control = records(settings).control
        # Tokens keep the checkpoint's first name: a run resumes across this change.
        self._checkpoint_key = f"rotation#{cipher.current_key_id}" + (
            f"#{secrets}" if secrets != TOKENS else ""
        )

    def run(self, page_size: int = PAGE_SIZE, max_pages: int | None = None) -> RotationReport:
        report = RotationReport(key_id=self._cipher.current_key_id)
        start = self._load_checkpoint()
        report.resumed = start is not None
        while max_pages is None or report.pages < max_pages:
            rows, next_key = self._rows.scan_page(start, page_size)
            for row in rows:
                if self._rows.reencrypt(row):
                    report.rotated += 1
                else:
                    report.skipped += 1
            report.pages += 1
            self._save_checkpoint(next_key)
            if next_key is None:
                report.finished = self._verify(report, page_size)
                break
            start = next_key
        return report

    def _verify(self, report: RotationReport, page_size: int) -> bool:
        """Read every row again; True once a whole pass finds none under an old key."""
        for _ in range(VERIFY_PASSES):
            found, start = 0, None
            while True:
                rows, start = self._rows.scan_page(start, page_size)
                stale = [row for row in rows if not self._current(row)]
                found += len(stale)
                for row in stale:
                    self._rows.reencrypt(row)
                if start is None:
                    break
            report.stragglers += found
            if found == 0:
                return True
        return False

    def _current(self, row: Any) -> bool:
        return all(self._cipher.is_current(value) for value in self._rows.ciphertexts(row))

    def _load_checkpoint(self) -> dict[str, Any] | None:
        try:
            item = self._control.get(self._checkpoint_key, consistent_read=True)
        except self._control.DoesNotExist:
            return None
        return json.loads(item.payload) if item.payload else None

    def _save_checkpoint(self, next_key: dict[str, Any] | None) -> None:
        if next_key is None:
            self._control(self._checkpoint_key).delete()
        else:
            self._control(self._checkpoint_key, payload=json.dumps(next_key)).save()


def main(argv: list[str]) -> None:
    secrets = argv[0] if argv else TOKENS
    if secrets not in (TOKENS, WEBHOOKS) or len(argv) > 1:
        raise SystemExit(f"usage: python -m autopost.maintenance.rotation [{TOKENS}|{WEBHOOKS}]")
    cipher = webhook_cipher() if secrets == WEBHOOKS else token_cipher()
    report = Rotation(get_settings(), cipher, secrets).run()
    print(json.dumps(report.__dict__))


if __name__ == "__main__":
    main(sys.argv[1:])
