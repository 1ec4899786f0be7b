"""What the clip validator decides about an uploaded object: key, container and metadata."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autopost.clip_validator.media import MediaError, read_mp4, read_webm
from autopost.domain.models import Clip, ClipStatus

CLIP_PREFIX = "clips"
ALLOWED_EXTENSIONS = {"mp4": "mp4", "mov": "mov", "webm": "webm"}
CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}
HEAD_BYTES = 64 * 1024

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:|-]{0,127}")
# How long reading one clip's structure may take: a batch of clips must never wait on one.
PARSE_SECONDS = 5.0


class UnusableKey(ValueError):
    """The key cannot name a clip of any user: it is ignored, not recorded."""


@dataclass(frozen=True)
class ClipKey:
    user_id: str
    clip_id: str
    extension: str


def parse_clip_key(key: str) -> ClipKey:
    """`clips/{userId}/{clipId}.{ext}`; the extension is checked later, as a clip verdict."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != CLIP_PREFIX:
        raise UnusableKey("expected clips/{userId}/{clipId}.{ext}")
    _, user_id, filename = parts
    clip_id, dot, extension = filename.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,8}", extension):
        raise UnusableKey("no extension, or an odd one")
    for segment in (user_id, clip_id):
        if not _SEGMENT.fullmatch(segment) or ".." in segment:
            raise UnusableKey("unsafe or empty segment")
    return ClipKey(user_id=user_id, clip_id=clip_id, extension=extension.lower())


def detect_container(head: bytes) -> str | None:
    """`mp4`, `mov` or `webm` from the first bytes, or None if none of them."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        # EBML header: the DocType element (0x4282) must say webm, not generic Matroska.
        doc_type = head.find(b"\x42\x82")
        if doc_type != -1 and b"webm" in head[doc_type : doc_type + 16]:
            return "webm"
    return None


def judge_upload(
    clip_key: ClipKey,
    key: str,
    size: int,
    head: bytes,
    open_stream: Any,
    at: datetime,
) -> Clip:
    """The clip record for an uploaded object: `ready` with its metadata, or `invalid` and why."""

    def verdict(status: ClipStatus, reason: str | None = None, **fields: Any) -> Clip:
        return Clip(
            user_id=clip_key.user_id,
            clip_id=clip_key.clip_id,
            key=key,
            status=status,
            reason=reason,
            size_bytes=size,
            created_at=at,
            updated_at=at,
            **fields,
        )

    if clip_key.extension not in ALLOWED_EXTENSIONS:
        return verdict(
            ClipStatus.INVALID,
            f"Неподдерживаемый формат файла .{clip_key.extension} (допустимы MP4, MOV, WebM)",
        )
    if size == 0:
        return verdict(ClipStatus.INVALID, "Файл пустой")
    container = detect_container(head)
    if container is None:
        return verdict(ClipStatus.INVALID, "Содержимое файла не похоже на видео MP4, MOV или WebM")
    if (container == "webm") != (clip_key.extension == "webm"):
        return verdict(
            ClipStatus.INVALID,
            f"Расширение .{clip_key.extension} не соответствует содержимому файла ({container.upper()})",
        )
    reader = read_webm if container == "webm" else read_mp4
    try:
        info = reader(open_stream(), size, deadline=time.monotonic() + PARSE_SECONDS)
    except MediaError as problem:
        return verdict(ClipStatus.INVALID, str(problem))
    if info.duration_seconds is None and container != "webm":
        return verdict(ClipStatus.INVALID, "Не удалось прочитать длительность видео")
    return verdict(
        ClipStatus.READY,
        content_type=CONTENT_TYPES[container],
        duration_seconds=info.duration_seconds,
        width=info.width,
        height=info.height,
    )


def removed_clip(clip_key: ClipKey, key: str, at: datetime) -> Clip:
    return Clip(
        user_id=clip_key.user_id,
        clip_id=clip_key.clip_id,
        key=key,
        status=ClipStatus.DELETED,
        reason="Файл клипа не найден",
        created_at=at,
        updated_at=at,
    )
