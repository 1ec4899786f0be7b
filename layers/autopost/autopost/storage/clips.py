"""Clips: written by the validator from S3 events, read by the API and the publisher."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError

from autopost.domain.clock import from_iso, to_iso
from autopost.domain.models import Clip, ClipStatus
from autopost.infra.settings import Settings
from autopost.storage.cursor import decode_cursor, encode_cursor
from autopost.storage.tables import records

# S3 sequencers are hexadecimal numbers of varying length; left-padded they compare as text.
SEQUENCER_WIDTH = 40
CURSOR_KEYS = frozenset({"user_id", "clip_id"})


def normalize_sequencer(sequencer: str) -> str:
    return sequencer.upper().rjust(SEQUENCER_WIDTH, "0")


class ClipRepository:
    def __init__(self, settings: Settings) -> None:
        self._record = records(settings).clip

    def get(self, user_id: str, clip_id: str) -> Clip | None:
        try:
            return _to_clip(self._record.get(user_id, clip_id))
        except self._record.DoesNotExist:
            return None

    def list_for_user(self, user_id: str, limit: int, cursor: str | None) -> tuple[list[Clip], str | None]:
        page = self._record.query(
            user_id, limit=limit, last_evaluated_key=decode_cursor(cursor, owner=user_id, keys=CURSOR_KEYS)
        )
        clips = [_to_clip(record) for record in page]
        return clips, encode_cursor(page.last_evaluated_key, owner=user_id)

    def save_if_newer(self, clip: Clip, sequencer: str) -> bool:
        """Store the clip unless a newer (or the same) S3 event for its key was recorded."""
        record_cls = self._record
        seq = normalize_sequencer(sequencer)
        existing = self.get(clip.user_id, clip.clip_id)
        created_at = existing.created_at if existing else clip.created_at
        record = record_cls(
            clip.user_id,
            clip.clip_id,
            key=clip.key,
            status=clip.status.value,
            reason=clip.reason,
            size_bytes=clip.size_bytes,
            content_type=clip.content_type,
            duration_seconds=clip.duration_seconds,
            width=clip.width,
            height=clip.height,
            sequencer=seq,
            created_at=to_iso(created_at),
            updated_at=to_iso(clip.updated_at),
        )
        try:
            record.save(condition=record_cls.sequencer.does_not_exist() | (record_cls.sequencer < seq))
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _to_clip(record: Any) -> Clip:
    return Clip(
        user_id=record.user_id,
        clip_id=record.clip_id,
        key=record.key,
        status=ClipStatus(record.status),
        reason=record.reason,
        size_bytes=record.size_bytes,
        content_type=record.content_type,
        duration_seconds=record.duration_seconds,
        width=record.width,
        height=record.height,
        created_at=from_iso(record.created_at),
        updated_at=from_iso(record.updated_at),
    )
