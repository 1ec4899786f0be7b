"""Text measured and cut the way each platform counts it. Telegram counts UTF-16 code units: an
emoji outside the Basic Multilingual Plane is two of its 1,024 (the Bot API's "1-1024
characters after entities parsing"; NousResearch/hermes-agent#49324, elizaOS/eliza#24479
cut at Python characters and were refused)."""

from __future__ import annotations

from dataclasses import dataclass

TELEGRAM_CAPTION_UNITS = 1024
DZEN_TITLE_CHARACTERS = 100  # LiberSynth/VIPilot cut the title there
ELLIPSIS = "…"
# Back to the last space when it is this close to the cut, so a word is not split.
WORD_BACKOFF_UNITS = 40
# A cut right after these would leave half of a composed emoji or an accent on nothing.
JOINERS = "\u200d\ufe0f\ufe0e"


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Fitted:
    text: str
    shortened: bool
    units: int  # of the text as given


def fit(text: str, limit: int = TELEGRAM_CAPTION_UNITS) -> Fitted:
    """The text, or its head with «…» in at most `limit` units: cut between code points (so
    never inside a surrogate pair), before a joiner is left dangling, and at the last space
    when one is near."""
    units = utf16_units(text)
    if units <= limit:
        return Fitted(text, False, units)
    room, used, end = limit - utf16_units(ELLIPSIS), 0, 0
    for index, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > room:
            break
        used += width
        end = index + 1
    head = text[:end]
    space = head.rfind(" ")
    if space > 0 and utf16_units(head[space:]) <= WORD_BACKOFF_UNITS:
        head = head[:space]
    head = head.rstrip(JOINERS + " \n\t")
    return Fitted(head + ELLIPSIS, True, units)
