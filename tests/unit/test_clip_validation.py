import io
from datetime import UTC, datetime

import pytest

from autopost.clip_validator.rules import (
    ClipKey,
    UnusableKey,
    detect_container,
    judge_upload,
    parse_clip_key,
)
from autopost.domain.models import ClipStatus
from tests.support.videos import make_video

AT = datetime(2026, 11, 29, tzinfo=UTC)


def test_a_well_formed_key_names_user_clip_and_extension():
    assert parse_clip_key("clips/user-1/clip_9.MP4") == ClipKey("user-1", "clip_9", "mp4")


@pytest.mark.parametrize(
    "key",
    [
        "clips/../secret.mp4",
        "clips/user-1/../x.mp4",
        "clips/../../etc/passwd.mp4",
        "clips//clip.mp4",
        "clips/user-1/.mp4",
        "clips/user-1/a/b.mp4",
        "uploads/user-1/clip.mp4",
        "clips/user-1/clip",
        "clips/user 1/clip.mp4",
        "clips/user-1/cl..ip.mp4",
        "clips/user-1/.hidden.mp4",
        "clips/юзер/clip.mp4",
        "clips/user-1\n/clip.mp4",
        "clips/user-1/clip\n.mp4",
        "clips/user-1/clip.mp4\n",
    ],
)
def test_odd_keys_are_unusable(key):
    with pytest.raises(UnusableKey):
        parse_clip_key(key)


@pytest.mark.parametrize(("container", "expected"), [("mp4", "mp4"), ("mov", "mov"), ("webm", "webm")])
def test_containers_are_recognised_by_their_first_bytes(container, expected):
    assert detect_container(make_video(container)[: 64 * 1024]) == expected


@pytest.mark.parametrize(
    "head",
    [b"", b"hello world, not a video", b"\x1a\x45\xdf\xa3\x42\x82\x88matroska", b"\x00\x00\x00\x18ftypx"[:9]],
)
def test_other_bytes_are_not_a_container(head):
    assert detect_container(head) is None


def _judge(extension, data):
    key = f"clips/u/c.{extension}"
    return judge_upload(
        ClipKey("u", "c", extension), key, len(data), data[:65536], lambda: io.BytesIO(data), AT
    )


def test_a_real_mp4_is_ready_with_its_metadata():
    clip = _judge("mp4", make_video("mp4"))
    assert clip.status is ClipStatus.READY
    assert clip.content_type == "video/mp4"
    assert clip.duration_seconds == pytest.approx(2.0, abs=0.2)
    assert (clip.width, clip.height) == (64, 48)


def test_a_real_webm_is_ready_with_its_duration():
    clip = _judge("webm", make_video("webm"))
    assert clip.status is ClipStatus.READY
    assert clip.content_type == "video/webm"
    assert clip.duration_seconds == pytest.approx(2.0, abs=0.2)
    assert (clip.width, clip.height) == (64, 48)


def test_a_truncated_mp4_is_invalid_not_ready():
    data = make_video("mp4")
    clip = _judge("mp4", data[: len(data) * 2 // 3])
    assert clip.status is ClipStatus.INVALID
    assert clip.reason.startswith(("Файл обрезан", "В файле нет описания видео"))


@pytest.mark.parametrize(
    ("extension", "data", "reason_start"),
    [
        ("avi", b"RIFF....AVI ", "Неподдерживаемый формат файла .avi"),
        ("mp4", b"", "Файл пустой"),
        ("mp4", b"just text pretending to be a video", "Содержимое файла не похоже на видео"),
        ("webm", None, "Расширение .webm не соответствует содержимому файла (MP4)"),
        ("mp4", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64, "В файле нет описания видео"),
    ],
)
def test_bad_uploads_are_invalid_with_a_reason(extension, data, reason_start):
    clip = _judge(extension, make_video("mp4") if data is None else data)
    assert clip.status is ClipStatus.INVALID
    assert clip.reason.startswith(reason_start)
