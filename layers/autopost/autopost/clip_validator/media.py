"""What a clip's container says about it (duration, frame size), read with bounded work.

MP4/MOV (ISO BMFF): the top-level boxes are walked by their headers only, `moov` is read
whole, and in it `mvhd` (duration) and each `trak`'s `tkhd` (frame size, rotation) and
`hdlr` (is it video?). WebM (Matroska/EBML): `Segment` → `Info` (`TimecodeScale`,
`Duration`) and `Tracks` → the video `TrackEntry` (`PixelWidth`, `PixelHeight`).

Every read is counted and every element checked against the file's end, so a crafted file
(a million empty boxes, a box that claims more bytes than the file has, an endless nest)
is refused quickly with a reason, never parsed for seconds; a deadline bounds the rest.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import BinaryIO

MAX_ELEMENTS = 10_000
MAX_MOOV_BYTES = 32 * 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024  # of a WebM's Info and Tracks together
MAX_DEPTH = 8


class MediaError(ValueError):
    """The file is not a clip we can read: `str(self)` is the reason, in Russian."""


@dataclass(frozen=True)
class VideoInfo:
    duration_seconds: float | None
    width: int | None
    height: int | None


class _Budget:
    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.elements = 0

    def spend(self) -> None:
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise MediaError("Файл устроен слишком сложно для проверки")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise MediaError("Не удалось проверить файл за отведённое время")


def _read_exact(stream: BinaryIO, offset: int, length: int) -> bytes:
    stream.seek(offset)
    data = stream.read(length)
    if len(data) != length:
        raise MediaError("Файл обрезан: он заканчивается раньше, чем сказано в его структуре")
    return data


# -- MP4 / MOV --------------------------------------------------------------------------------


def _boxes(data: bytes, budget: _Budget, depth: int = 0) -> list[tuple[bytes, bytes]]:
    """The boxes in a buffer: (type, payload)."""
    if depth > MAX_DEPTH:
        raise MediaError("Файл устроен слишком сложно для проверки")
    found, offset = [], 0
    while offset + 8 <= len(data):
        budget.spend()
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if offset + 16 > len(data):
                raise MediaError("Файл обрезан: он заканчивается раньше, чем сказано в его структуре")
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = len(data) - offset
        if size < header or offset + size > len(data):
            raise MediaError("Файл повреждён: блок MP4 выходит за свои границы")
        found.append((kind, data[offset + header : offset + size]))
        offset += size
    return found


def _child(boxes: list[tuple[bytes, bytes]], kind: bytes) -> bytes | None:
    return next((payload for name, payload in boxes if name == kind), None)


def read_mp4(stream: BinaryIO, size: int, deadline: float | None = None) -> VideoInfo:
    budget = _Budget(deadline)
    offset, moov = 0, None
    while offset < size:
        budget.spend()
        if size - offset < 8:
            raise MediaError("Файл обрезан: он заканчивается раньше, чем сказано в его структуре")
        box_size, kind = struct.unpack(">I4s", _read_exact(stream, offset, 8))
        header = 8
        if box_size == 1:
            (box_size,) = struct.unpack(">Q", _read_exact(stream, offset + 8, 8))
            header = 16
        elif box_size == 0:
            box_size = size - offset
        if box_size < header:
            raise MediaError("Файл повреждён: блок MP4 выходит за свои границы")
        if offset + box_size > size:
            raise MediaError("Файл обрезан: он заканчивается раньше, чем сказано в его структуре")
        if kind == b"moov":
            if box_size > MAX_MOOV_BYTES:
                raise MediaError("Файл устроен слишком сложно для проверки")
            moov = _read_exact(stream, offset + header, box_size - header)
        offset += box_size
    if moov is None:
        raise MediaError("В файле нет описания видео (блока moov): файл повреждён или не дописан")
    return _moov_info(_boxes(moov, budget, 1), budget)


def _moov_info(moov: list[tuple[bytes, bytes]], budget: _Budget) -> VideoInfo:
    mvhd = _child(moov, b"mvhd")
    if mvhd is None or len(mvhd) < 20:
        raise MediaError("Не удалось прочитать длительность видео")
    if mvhd[0] == 1:
        if len(mvhd) < 32:
            raise MediaError("Не удалось прочитать длительность видео")
        timescale, duration = struct.unpack_from(">IQ", mvhd, 20)
    else:
        timescale, duration = struct.unpack_from(">II", mvhd, 12)
    seconds = duration / timescale if timescale and duration not in (0, 0xFFFFFFFF, 2**64 - 1) else None
    for kind, payload in moov:
        if kind != b"trak":
            continue
        track = _boxes(payload, budget, 2)
        mdia = _child(track, b"mdia")
        hdlr = _child(_boxes(mdia, budget, 3), b"hdlr") if mdia else None
        if hdlr is None or len(hdlr) < 12 or hdlr[8:12] != b"vide":
            continue
        tkhd = _child(track, b"tkhd")
        if tkhd is not None:
            return VideoInfo(seconds, *_frame_size(tkhd))
    raise MediaError("В файле нет видеодорожки")


def _frame_size(tkhd: bytes) -> tuple[int | None, int | None]:
    """Width and height as shown: the track's size, turned by its matrix (a phone's
    vertical clip is often stored landscape with a 90° turn)."""
    matrix_at = 40 if tkhd[0] == 0 else 52
    if len(tkhd) < matrix_at + 44:
        return None, None
    a, b, _, c, d = struct.unpack_from(">iiiii", tkhd, matrix_at)
    width, height = struct.unpack_from(">II", tkhd, matrix_at + 36)
    width, height = width >> 16, height >> 16
    if a == 0 and d == 0 and b != 0 and c != 0:
        width, height = height, width
    return (width or None), (height or None)


# -- WebM (Matroska / EBML) -------------------------------------------------------------------

_SEGMENT, _INFO, _TRACKS, _CLUSTER = 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675
_TIMECODE_SCALE, _DURATION = 0x2AD7B1, 0x4489
_TRACK_ENTRY, _TRACK_TYPE, _VIDEO, _WIDTH, _HEIGHT = 0xAE, 0x83, 0xE0, 0xB0, 0xBA
_UNKNOWN = -1


def _vint(data: bytes, offset: int, keep_marker: bool) -> tuple[int, int]:
    """(value, length) of an EBML variable-size integer; an all-ones size is unknown (-1)."""
    if offset >= len(data):
        raise MediaError("Файл обрезан: он заканчивается раньше, чем сказано в его структуре")
    first = data[offset]
    length = next((n for n in range(1, 9) if first & (0x80 >> (n - 1))), 0)
    if length == 0 or offset + length > len(data):
        raise MediaError("Файл повреждён: неверный заголовок WebM")
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[offset + 1 : offset + length]:
        value = (value << 8) | byte
    if not keep_marker and value == (1 << (7 * length)) - 1:
        value = _UNKNOWN
    return value, length


def _elements(data: bytes, budget: _Budget) -> list[tuple[int, bytes]]:
    found, offset = [], 0
    while offset < len(data):
        budget.spend()
        element, id_length = _vint(data, offset, keep_marker=True)
        size, size_length = _vint(data, offset + id_length, keep_marker=False)
        start = offset + id_length + size_length
        end = len(data) if size == _UNKNOWN else start + size
        if end > len(data):
            raise MediaError("Файл обрезан: он заканчивается раньше, чем сказано в его структуре")
        found.append((element, data[start:end]))
        offset = end
    return found


def _uint(payload: bytes) -> int:
    return int.from_bytes(payload, "big") if payload else 0


def read_webm(stream: BinaryIO, size: int, deadline: float | None = None) -> VideoInfo:
    budget = _Budget(deadline)
    head = _read_exact(stream, 0, min(size, 64))
    _, id_length = _vint(head, 0, keep_marker=True)
    ebml_size, size_length = _vint(head, id_length, keep_marker=False)
    offset = id_length + size_length + max(0, ebml_size)
    segment_head = _read_exact(stream, offset, min(12, size - offset))
    segment, id_length = _vint(segment_head, 0, keep_marker=True)
    if segment != _SEGMENT:
        raise MediaError("Файл повреждён: в WebM нет сегмента с видео")
    _, size_length = _vint(segment_head, id_length, keep_marker=False)
    offset += id_length + size_length
    info = tracks = None
    read = 0
    while offset < size and (info is None or tracks is None):
        budget.spend()
        header = _read_exact(stream, offset, min(12, size - offset))
        element, id_length = _vint(header, 0, keep_marker=True)
        length, size_length = _vint(header, id_length, keep_marker=False)
        if element == _CLUSTER:
            break  # the frames begin: muxers put Info and Tracks before them
        start = offset + id_length + size_length
        if length == _UNKNOWN or start + length > size:
            raise MediaError("Файл обрезан: он заканчивается раньше, чем сказано в его структуре")
        if element in (_INFO, _TRACKS):
            read += length
            if read > MAX_HEADER_BYTES:
                raise MediaError("Файл устроен слишком сложно для проверки")
            payload = _elements(_read_exact(stream, start, length), budget)
            if element == _INFO:
                info = payload
            else:
                tracks = payload
        offset = start + length
    if tracks is None:
        raise MediaError("В файле нет видеодорожки")
    width, height = _webm_frame(tracks, budget)
    return VideoInfo(_webm_duration(info or []), width, height)


def _webm_duration(info: list[tuple[int, bytes]]) -> float | None:
    scale = next((_uint(p) for e, p in info if e == _TIMECODE_SCALE), 1_000_000)
    raw = next((p for e, p in info if e == _DURATION), None)
    if raw is None or len(raw) not in (4, 8) or not scale:
        return None
    (ticks,) = struct.unpack(">f" if len(raw) == 4 else ">d", raw)
    return ticks * scale / 1e9 if ticks > 0 else None


def _webm_frame(tracks: list[tuple[int, bytes]], budget: _Budget) -> tuple[int | None, int | None]:
    for element, payload in tracks:
        if element != _TRACK_ENTRY:
            continue
        entry = _elements(payload, budget)
        if next((_uint(p) for e, p in entry if e == _TRACK_TYPE), 0) != 1:
            continue
        video = _elements(next((p for e, p in entry if e == _VIDEO), b""), budget)
        width = next((_uint(p) for e, p in video if e == _WIDTH), 0)
        height = next((_uint(p) for e, p in video if e == _HEIGHT), 0)
        return (width or None), (height or None)
    raise MediaError("В файле нет видеодорожки")
