import hashlib
import time

import pytest
from pydantic import SecretStr

from autopost.errors import PlatformRateLimited, PlatformUnavailable, TokenExpired, UploadIncomplete
from autopost.providers.base import Credentials, PostDraft
from autopost.providers.rutube import RutubeProvider
from tests.support.platforms import bytes_clip

DATA = bytes(range(256)) * 12_000  # about 3 MB
CHUNK = 1_000_000


@pytest.fixture
def rutube(settings, platforms):
    return (
        RutubeProvider(settings, patch_bytes=CHUNK),
        Credentials(SecretStr(platforms.rutube.issue_token())),
        platforms.rutube,
    )


def completed(emulator):
    return [v for v in emulator.videos.values() if v.complete]


def test_check_reads_the_profile(rutube):
    provider, credentials, _ = rutube
    assert provider.check(credentials).name == "Канал 501"


def test_upload_in_tus_chunks_with_a_checkpoint_after_each(rutube, checkpoints):
    provider, credentials, emulator = rutube
    result = provider.upload(credentials, bytes_clip(DATA), PostDraft("t", "d"), None, checkpoints.append)

    (video,) = completed(emulator)
    assert video.sha256 == hashlib.sha256(DATA).hexdigest()
    assert result.post_id == video.video_id
    assert result.url == f"https://rutube.ru/video/{video.video_id}/"
    assert [c["offset"] for c in checkpoints] == [0, 1_000_000, 2_000_000, 3_000_000, len(DATA)]
    assert len(emulator.calls_to("tus-patch")) == 4


def test_a_broken_upload_continues_from_the_last_acknowledged_byte(rutube, checkpoints):
    provider, credentials, emulator = rutube
    emulator.inject("tus-patch", "cut", after_bytes=400_000)
    provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)

    (video,) = completed(emulator)
    assert video.sha256 == hashlib.sha256(DATA).hexdigest()
    assert video.size == len(DATA)
    # Bytes sent in all: the file once, plus at most the part of a chunk lost in the cut.
    sent = sum(c.get("bytes", 0) for c in emulator.calls_to("tus-patch"))
    assert len(DATA) - CHUNK <= sent <= len(DATA)
    assert len(emulator.calls_to("upload-session")) == 1


def test_out_of_time_it_hands_over_a_checkpoint_and_the_next_attempt_finishes(rutube, checkpoints):
    provider, credentials, emulator = rutube
    with pytest.raises(UploadIncomplete) as caught:
        provider.upload(
            credentials,
            bytes_clip(DATA),
            PostDraft("t"),
            None,
            checkpoints.append,
            deadline=time.monotonic() + 30,
        )
    assert caught.value.checkpoint["offset"] == 0
    assert caught.value.task_error == "UploadIncomplete"

    half = {**caught.value.checkpoint}
    provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), half, checkpoints.append)
    assert len(emulator.calls_to("upload-session")) == 1
    (video,) = completed(emulator)
    assert video.sha256 == hashlib.sha256(DATA).hexdigest()


def test_a_checkpoint_in_the_middle_resumes_there(rutube, checkpoints):
    provider, credentials, emulator = rutube
    emulator.inject("tus-patch", "http_500", times=20)
    with pytest.raises(PlatformUnavailable):
        provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    emulator.clear_faults()
    assert checkpoints[-1]["offset"] == 0
    provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), checkpoints[-1], checkpoints.append)
    assert len(emulator.calls_to("upload-session")) == 1
    assert len(completed(emulator)) == 1


@pytest.mark.parametrize(
    ("kind", "error"),
    [("token_expired", TokenExpired), ("rate_limit", PlatformRateLimited), ("http_500", PlatformUnavailable)],
)
def test_failures_map_onto_the_platform_error_set(rutube, checkpoints, kind, error):
    provider, credentials, emulator = rutube
    emulator.inject("upload-session", kind, retry_after=42)
    with pytest.raises(error) as caught:
        provider.upload(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    if error is PlatformRateLimited:
        assert caught.value.retry_after == 42


def test_views_come_from_hits(rutube, checkpoints):
    provider, credentials, emulator = rutube
    result = provider.upload(credentials, bytes_clip(b"x" * 10), PostDraft("t"), None, checkpoints.append)
    emulator.videos[result.post_id].hits = 1234
    assert provider.fetch_stats(credentials, [result.post_id])[result.post_id].views == 1234


def test_tokens_are_not_refreshed(rutube):
    provider, credentials, _ = rutube
    with pytest.raises(TokenExpired):
        provider.refresh(credentials)
