"""Reading a clip's container with bounded work: real files, and files made to hurt."""

import io
import struct

import pytest

from autopost.clip_validator.media import MediaError, read_mp4, read_webm
from tests.support.videos import make_video, webm


class CountingStream(io.BytesIO):
    """How much of the file a parse read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mvhd(timescale=1000, duration=14_000) -> bytes:
    return box(b"mvhd", bytes(4) + struct.pack(">IIII", 0, 0, timescale, duration) + bytes(80))


def tkhd(width, height, rotated=False) -> bytes:
    a, b, c, d = (0, 0x10000, -0x10000, 0) if rotated else (0x10000, 0, 0, 0x10000)
    matrix = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 0x40000000)
    body = bytes(4) + bytes(20) + bytes(8) + bytes(8) + matrix + struct.pack(">II", width << 16, height << 16)
    return box(b"tkhd", body)


def trak(kind: bytes, width=0, height=0, rotated=False) -> bytes:
    hdlr = box(b"hdlr", bytes(8) + kind + bytes(12))
    return box(b"trak", tkhd(width, height, rotated) + box(b"mdia", hdlr))


def mp4(*tracks: bytes, duration=14_000) -> bytes:
    return (
        box(b"ftyp", b"isom" + bytes(4))
        + box(b"mdat", bytes(100))
        + box(b"moov", mvhd(duration=duration) + b"".join(tracks))
    )


def read(data: bytes, reader=read_mp4):
    return reader(io.BytesIO(data), len(data))


@pytest.mark.parametrize("container", ["mp4", "mov"])
def test_real_files_give_duration_and_frame_size(container):
    info = read(make_video(container, seconds=3, width=96, height=64))
    assert info.duration_seconds == pytest.approx(3.0, abs=0.2)
    assert (info.width, info.height) == (96, 64)


def test_a_real_webm_gives_duration_and_frame_size():
    info = read(make_video("webm", seconds=3, width=96, height=64), read_webm)
    assert info.duration_seconds == pytest.approx(3.0, abs=0.2)
    assert (info.width, info.height) == (96, 64)


def test_a_phone_clip_stored_landscape_and_turned_reads_as_vertical():
    info = read(mp4(trak(b"vide", 1920, 1080, rotated=True)))
    assert (info.width, info.height, info.duration_seconds) == (1080, 1920, 14.0)


def test_the_video_track_is_found_after_an_audio_one():
    assert read(mp4(trak(b"soun"), trak(b"vide", 720, 1280))).height == 1280


def test_no_video_track_is_refused():
    with pytest.raises(MediaError, match="нет видеодорожки"):
        read(mp4(trak(b"soun")))


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.99])
def test_a_file_cut_short_is_refused(cut):
    data = make_video("mp4")
    with pytest.raises(MediaError):
        read(data[: int(len(data) * cut)])


def test_a_box_claiming_more_than_the_file_is_refused():
    data = mp4(trak(b"vide", 64, 48))
    lying = data[:-4] + b"\x00\x00\x00\x00"  # the file ends early inside moov
    with pytest.raises(MediaError, match=r"обрезан|границы|описания"):
        read(lying[:-20])


def test_two_hundred_thousand_empty_boxes_are_refused_after_reading_little():
    data = box(b"ftyp", b"isom" + bytes(4)) + box(b"free") * 200_000 + mp4(trak(b"vide", 64, 48))
    stream = CountingStream(data)
    with pytest.raises(MediaError, match="слишком сложно"):
        read_mp4(stream, len(data))
    assert stream.bytes_read < 200_000  # of 1.6 MB: it stopped at the cap


def test_a_deep_nest_is_refused():
    nest = box(b"vide")
    for _ in range(50):
        nest = box(b"trak", nest)
    with pytest.raises(MediaError):
        read(box(b"ftyp", b"isom" + bytes(4)) + box(b"moov", mvhd() + nest))


def test_a_deadline_bounds_the_work():
    with pytest.raises(MediaError, match="отведённое время"):
        read_mp4(io.BytesIO(make_video("mp4")), len(make_video("mp4")), deadline=0.0)


def test_a_ten_minute_webm_says_ten_minutes():
    info = read(webm(600_000.0), read_webm)
    assert (info.duration_seconds, info.width, info.height) == (600.0, 720, 1280)


def test_a_webm_without_a_duration_says_it_is_unknown():
    assert read(webm(None), read_webm).duration_seconds is None


def test_a_webm_cut_inside_its_tracks_is_refused():
    data = webm(1000.0)
    with pytest.raises(MediaError):
        read(data[: data.index(b"\x16\x54\xae\x6b") + 10], read_webm)
