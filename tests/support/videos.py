"""Test clips: the local stack's video maker (one place makes videos), and a large one."""

import struct

from devstack.videos import make_video

__all__ = ["make_video", "padded_video", "webm"]


def padded_video(total_bytes: int) -> bytes:
    """A valid MP4 of `total_bytes`: a real clip followed by an MP4 `free` box of padding."""
    clip = make_video("mp4")
    padding = total_bytes - len(clip)
    return clip + struct.pack(">I", padding) + b"free" + bytes(padding - 8)


def ebml(element_id: int, payload: bytes) -> bytes:
    size = len(payload)
    return (
        element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
        + bytes([0x01])
        + size.to_bytes(7, "big")
        + payload
    )


def webm(duration_ms: float | None, width=720, height=1280) -> bytes:
    """A WebM's header as muxers write it (Info, Tracks, then a Cluster): a stated duration
    (or none), a frame size; no real frames."""
    header = ebml(0x1A45DFA3, ebml(0x4282, b"webm"))
    info = ebml(0x2AD7B1, (1_000_000).to_bytes(3, "big"))
    if duration_ms is not None:
        info += ebml(0x4489, struct.pack(">d", duration_ms))
    video = ebml(0xE0, ebml(0xB0, width.to_bytes(2, "big")) + ebml(0xBA, height.to_bytes(2, "big")))
    tracks = ebml(0x1654AE6B, ebml(0xAE, ebml(0x83, b"\x01") + video))
    cluster = ebml(0x1F43B675, bytes(64))
    segment = b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff"  # unknown size, as live muxers write
    return header + segment + ebml(0x1549A966, info) + tracks + cluster
