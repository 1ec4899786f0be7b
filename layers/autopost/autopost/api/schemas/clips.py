"""A clip as the console lists it."""

from __future__ import annotations

from autopost.api.schemas.base import (
    ApiModel,
)
from autopost.domain.clock import Timestamp
from autopost.domain.models import Clip, ClipStatus


class ClipOut(ApiModel):
    id: str
    status: ClipStatus
    reason: str | None
    size_bytes: int | None
    content_type: str | None
    duration_seconds: float | None
    width: int | None
    height: int | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, clip: Clip) -> ClipOut:
        return cls(
            id=clip.clip_id,
            status=clip.status,
            reason=clip.reason,
            size_bytes=clip.size_bytes,
            content_type=clip.content_type,
            duration_seconds=clip.duration_seconds,
            width=clip.width,
            height=clip.height,
            created_at=clip.created_at,
            updated_at=clip.updated_at,
        )


class ClipList(ApiModel):
    items: list[ClipOut]
    next_cursor: str | None = None
