"""Clip sources for provider tests (the emulators themselves live in emulators.suite)."""

from __future__ import annotations

import io

from autopost.providers.base import ClipSource


def bytes_clip(data: bytes, filename: str = "clip.mp4") -> ClipSource:
    return ClipSource(
        size=len(data),
        filename=filename,
        content_type="video/mp4",
        open=lambda offset: io.BytesIO(data[offset:]),
    )
