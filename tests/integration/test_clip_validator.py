"""Uploads to the clips bucket reach the validator through the clip-events queue."""

import json
import os

import pytest

from autopost.clip_validator.media import read_mp4
from autopost.infra.s3io import open_range_reader
from tests.support.videos import make_video


def clip(harness, clip_id="clip-1", user="user-1"):
    response = harness.api("GET", f"/clips/{clip_id}", user=user)
    return response.body if response.status == 200 else None


def queued_bodies(harness):
    messages = harness.sqs.receive_message(
        QueueUrl=harness.stack.ref("ClipEventsQueue"), MaxNumberOfMessages=10, VisibilityTimeout=0
    ).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


@pytest.mark.parametrize(("container", "content_type"), [("mp4", "video/mp4"), ("mov", "video/quicktime")])
def test_an_mp4_or_mov_upload_becomes_a_ready_clip_with_its_metadata(harness, container, content_type):
    data = make_video(container, seconds=3, width=80, height=60)
    harness.upload("user-1", "clip-1", data, extension=container)
    (response,) = harness.validate_uploads()

    assert response == {"batchItemFailures": []}
    found = clip(harness)
    assert found["status"] == "ready"
    assert found["contentType"] == content_type
    assert found["sizeBytes"] == len(data)
    assert found["durationSeconds"] == pytest.approx(3.0, abs=0.2)
    assert (found["width"], found["height"]) == (80, 60)


def test_a_webm_upload_is_ready_with_its_duration(harness):
    harness.upload("user-1", "clip-1", make_video("webm"), extension="webm")
    harness.validate_uploads()
    found = clip(harness)
    assert (found["status"], found["contentType"]) == ("ready", "video/webm")
    assert found["durationSeconds"] == pytest.approx(2.0, abs=0.2)


def test_a_crafted_mp4_of_many_empty_boxes_is_refused_and_the_rest_of_its_batch_validated(harness):
    """200,000 empty boxes (1.6 MB): refused within the per-clip bounds, and the valid clip
    uploaded beside it in the same batch is ready."""
    import struct

    crafted = (
        struct.pack(">I4s4s4s", 16, b"ftyp", b"isom", bytes(4)) + struct.pack(">I4s", 8, b"free") * 200_000
    )
    harness.upload("user-1", "crafted", crafted)
    harness.upload("user-1", "clip-1", make_video("mp4"))
    responses = harness.validate_uploads()
    assert all(not r.get("batchItemFailures") for r in responses)
    crafted_clip = harness.api("GET", "/clips/crafted").body
    assert (crafted_clip["status"], crafted_clip["reason"]) == (
        "invalid",
        "Файл устроен слишком сложно для проверки",
    )
    assert clip(harness)["status"] == "ready"


def test_a_truncated_mp4_is_invalid_with_a_reason(harness):
    data = make_video("mp4")
    harness.upload("user-1", "clip-1", data[: len(data) // 2])
    harness.validate_uploads()
    found = clip(harness)
    assert found["status"] == "invalid"
    assert found["reason"].startswith(("Файл обрезан", "В файле нет описания видео"))


@pytest.mark.parametrize(
    ("data", "extension", "reason"),
    [
        (b"plain text", "mp4", "Содержимое файла не похоже на видео MP4, MOV или WebM"),
        (b"", "mp4", "Файл пустой"),
        (b"RIFF", "avi", "Неподдерживаемый формат файла .avi (допустимы MP4, MOV, WebM)"),
    ],
)
def test_bad_uploads_are_recorded_invalid_with_a_reason(harness, data, extension, reason):
    harness.upload("user-1", "clip-1", data, extension=extension)
    harness.validate_uploads()
    found = clip(harness)
    assert found["status"] == "invalid"
    assert found["reason"] == reason


@pytest.mark.parametrize(
    "key",
    [
        "clips/user-1/../user-2/clip.mp4",
        "clips/user-1/nested/clip.mp4",
        "clips/user-1/noextension",
        "clips//c.mp4",
    ],
)
def test_odd_keys_are_ignored_and_record_nothing(harness, key):
    harness.s3.put_object(Bucket=harness.bucket, Key=key, Body=make_video("mp4"))
    (response,) = harness.validate_uploads()
    assert response == {"batchItemFailures": []}
    for user in ("user-1", "user-2", ""):
        assert harness.api("GET", "/clips", user=user or "nobody").body["items"] == []


def test_removing_the_object_marks_the_clip_deleted(harness):
    key = harness.upload("user-1", "clip-1", make_video("mp4"))
    harness.validate_uploads()
    harness.s3.delete_object(Bucket=harness.bucket, Key=key)
    harness.validate_uploads()
    found = clip(harness)
    assert found["status"] == "deleted"
    assert found["reason"] == "Файл клипа не найден"


def test_a_replayed_event_changes_nothing(harness):
    harness.upload("user-1", "clip-1", make_video("mp4"))
    bodies = queued_bodies(harness)
    harness.validate_uploads()
    before = clip(harness)

    # The same notification delivered again, after the object was replaced by junk.
    harness.s3.put_object(Bucket=harness.bucket, Key="clips/user-1/clip-1.mp4", Body=b"junk")
    harness.sqs.purge_queue(QueueUrl=harness.stack.ref("ClipEventsQueue"))
    for body in bodies:
        harness.sqs.send_message(QueueUrl=harness.stack.ref("ClipEventsQueue"), MessageBody=json.dumps(body))
    harness.validate_uploads()

    assert clip(harness) == before


def test_an_older_creation_arriving_after_a_removal_does_not_resurrect_the_clip(harness):
    key = harness.upload("user-1", "clip-1", make_video("mp4"))
    created = queued_bodies(harness)
    harness.sqs.purge_queue(QueueUrl=harness.stack.ref("ClipEventsQueue"))
    harness.s3.delete_object(Bucket=harness.bucket, Key=key)
    harness.validate_uploads()
    for body in created:
        harness.sqs.send_message(QueueUrl=harness.stack.ref("ClipEventsQueue"), MessageBody=json.dumps(body))
    harness.validate_uploads()
    assert clip(harness)["status"] == "deleted"


def test_the_s3_test_event_and_other_buckets_are_ignored(harness):
    queue = harness.stack.ref("ClipEventsQueue")
    harness.sqs.send_message(
        QueueUrl=queue, MessageBody=json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})
    )
    harness.upload("user-1", "clip-1", make_video("mp4"))
    (body,) = queued_bodies(harness)[-1:]
    harness.sqs.purge_queue(QueueUrl=queue)
    body["Records"][0]["s3"]["bucket"]["name"] = "someone-elses-bucket"
    harness.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))
    (response,) = harness.validate_uploads()
    assert response == {"batchItemFailures": []}
    assert clip(harness) is None


def test_a_message_that_is_not_json_is_reported_failed_not_lost(harness):
    queue = harness.stack.ref("ClipEventsQueue")
    harness.sqs.purge_queue(QueueUrl=queue)
    harness.sqs.send_message(QueueUrl=queue, MessageBody="{broken")
    (response,) = harness.validate_uploads()
    assert len(response["batchItemFailures"]) == 1
    attributes = harness.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"  # back after the visibility timeout


def test_metadata_is_read_from_a_few_ranges_not_the_whole_object(harness):
    """An MP4 with its index at the end: the parser seeks there instead of downloading all."""
    noise = make_noise_video()
    key = "clips/user-1/large.mp4"
    harness.s3.put_object(Bucket=harness.bucket, Key=key, Body=noise)
    reader = open_range_reader(harness.s3, harness.bucket, key, len(noise), buffer_size=64 * 1024)
    info = read_mp4(reader, len(noise))
    fetched = reader.raw.requests * 64 * 1024
    assert info.duration_seconds == pytest.approx(2.0, abs=0.2)
    assert len(noise) > 2_000_000
    assert fetched < len(noise) / 4


def make_noise_video():
    import io
    from fractions import Fraction

    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as output:
        stream = output.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.bit_rate = 20_000_000
        for index in range(20):
            frame = av.VideoFrame(320, 240, "yuv420p")
            for plane in frame.planes:
                plane.update(os.urandom(plane.buffer_size))
            frame.pts, frame.time_base = index, Fraction(1, 10)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()
