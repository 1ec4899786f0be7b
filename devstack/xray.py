"""The X-Ray daemon's part, locally: the tracer in each handler sends its segments over
UDP (`AWS_XRAY_DAEMON_ADDRESS`), as it does to the daemon in Lambda; this keeps them as JSON
lines in a file, so what a trace would hold in AWS can be read (and searched for secrets)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

MAX_DATAGRAM = 64 * 1024


class XRayDaemon:
    def __init__(self, path: Path, host: str = "127.0.0.1") -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((host, 0))
        self.address = f"{host}:{self._socket.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="xray-daemon", daemon=True)

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")
        self._socket.settimeout(0.5)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _receive(self) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            while not self._stop.is_set():
                try:
                    datagram = self._socket.recv(MAX_DATAGRAM)
                except TimeoutError:
                    continue
                except OSError:
                    return
                # A header line (`{"format":"json","version":1}`), then the segment.
                _, _, document = datagram.partition(b"\n")
                try:
                    json.loads(document)
                except ValueError:
                    continue
                out.write(document.decode() + "\n")
                out.flush()
