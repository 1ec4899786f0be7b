"""Serve emulators from the command line: `python -m emulators vk=8001 telegram=8002`.

Prints one line of JSON with the base URL of each, then serves until interrupted.
"""

from __future__ import annotations

import json
import signal
import sys
import threading

from emulators.dzen import DzenEmulator
from emulators.http import Emulator
from emulators.rutube import RutubeEmulator
from emulators.telegram import TelegramEmulator
from emulators.vk import VkEmulator

KINDS: dict[str, type[Emulator]] = {
    "vk": VkEmulator,
    "telegram": TelegramEmulator,
    "rutube": RutubeEmulator,
    "dzen": DzenEmulator,
}


def main(arguments: list[str]) -> None:
    running: dict[str, Emulator] = {}
    for argument in arguments or [f"{name}=0" for name in KINDS]:
        name, _, port = argument.partition("=")
        if name not in KINDS:
            raise SystemExit(f"unknown emulator {name!r}; known: {', '.join(KINDS)}")
        emulator = KINDS[name]()
        emulator.start(port=int(port or 0))
        running[name] = emulator
    print(json.dumps({name: emulator.base_url for name, emulator in running.items()}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for emulator in running.values():
        emulator.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
