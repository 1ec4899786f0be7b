"""Real, small video files made with PyAV (FFmpeg's libraries from a wheel; no network)."""

from __future__ import annotations

import functools
import io
from fractions import Fraction

import av


@functools.cache
def make_video(
    container: str = "mp4", seconds: int = 2, width: int = 64, height: int = 48, fps: int = 10
) -> bytes:
    """`container` is mp4, mov or webm; frames are flat grey steps (they compress to bytes)."""
    codec = {"mp4": "libx264", "mov": "libx264", "webm": "libvpx"}[container]
    if codec not in av.codecs_available:
        codec = {"libx264": "mpeg4", "libvpx": "libvpx-vp9"}[codec]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(seconds * fps):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([index * 7 % 256]) * plane.buffer_size)
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()
