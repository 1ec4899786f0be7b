"""Test clips: the local stack's video maker (one place makes videos), and a large one."""

import struct

from devstack.videos import make_video

__all__ = ["make_video", "padded_video"]


def padded_video(total_bytes: int) -> bytes:
    """A valid MP4 of `total_bytes`: a real clip followed by an MP4 `free` box of padding."""
    clip = make_video("mp4")
    padding = total_bytes - len(clip)
    return clip + struct.pack(">I", padding) + b"free" + bytes(padding - 8)
