"""Re-encrypt every connection's tokens with the current key: `python -m autopost.rotation`.

Run it after setting a new PLATFORM_TOKEN_SECRET with the old one in
PLATFORM_TOKEN_PREVIOUS_SECRETS. It records its scan position in the control table after
every page, so a crashed run resumes where it stopped; rows already under the current key
are skipped. When it reports `"finished": true`, the previous secret can be removed.
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


@dataclass
class RotationReport:
    key_id: str
    rotated: int = 0
    skipped: int = 0
    pages: int = 0
    resumed: bool = False
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
                report.finished = True
                break
            start = next_key
        return report

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
