"""Re-encrypt every connection's tokens with the current key: `python -m autopost.rotation`.

Run it after putting a new value in the token secret (Secrets Manager keeps the old one as
`AWSPREVIOUS`; locally, PLATFORM_TOKEN_PREVIOUS_SECRETS). It records its scan position in
the control table after every page, so a crashed run resumes where it stopped; rows already
under the current key are skipped, rows changed meanwhile are read again. Once the scan is
through, a verification pass reads every row again (warm environments may have written with
the old key until they noticed the new one): `"finished": true` only when a pass finds no
row under another key. Only then may the previous key go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from autopost.crypto import TokenCipher
from autopost.secrets import token_cipher
from autopost.settings import Settings, get_settings
from autopost.storage.connections import ConnectionRepository
from autopost.storage.tables import records

PAGE_SIZE = 25


VERIFY_PASSES = 3


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
    def __init__(self, settings: Settings, cipher: TokenCipher) -> None:
        self._connections = ConnectionRepository(settings, cipher)
        self._control = records(settings).control
        self._key_id = cipher.current_key_id

    @property
    def _checkpoint_key(self) -> str:
        return f"rotation#{self._key_id}"

    def run(self, page_size: int = PAGE_SIZE, max_pages: int | None = None) -> RotationReport:
        report = RotationReport(key_id=self._key_id)
        start = self._load_checkpoint()
        report.resumed = start is not None
        while max_pages is None or report.pages < max_pages:
            rows, next_key = self._connections.scan_page(start, page_size)
            for row in rows:
                if self._connections.reencrypt(row):
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
                stale, start = self._connections.old_key_rows(start, page_size)
                found += len(stale)
                for row in stale:
                    self._connections.reencrypt(row)
                if start is None:
                    break
            report.stragglers += found
            if found == 0:
                return True
        return False

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


def main() -> None:
    report = Rotation(get_settings(), token_cipher()).run()
    print(json.dumps(report.__dict__))


if __name__ == "__main__":
    main()
