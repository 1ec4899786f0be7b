"""Turns S3 object events (as delivered through the clip-events queue) into clip records."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event, S3EventRecord
from botocore.exceptions import ClientError

from autopost.clip_validator.rules import (
    HEAD_BYTES,
    UnusableKey,
    judge_upload,
    parse_clip_key,
    removed_clip,
)
from autopost.domain.clock import from_iso
from autopost.infra.aws import client
from autopost.infra.observability import logger, metrics
from autopost.infra.s3io import open_range_reader
from autopost.infra.settings import Settings
from autopost.storage.clips import ClipRepository


class ClipEventHandler:
    def __init__(self, settings: Settings, clips: ClipRepository | None = None) -> None:
        self._bucket = settings.clips_bucket
        self._clips = clips or ClipRepository(settings)

    def handle_message(self, body: dict[str, Any]) -> None:
        """One queue message: an S3 event with Records, or S3's `s3:TestEvent` (ignored)."""
        if body.get("Event") == "s3:TestEvent" or "Records" not in body:
            return
        for record in S3Event(body).records:
            self.handle_record(record)

    def handle_record(self, record: S3EventRecord) -> None:
        key = unquote_plus(record.s3.get_object.key)
        bucket = record.s3.bucket.name
        if bucket != self._bucket:
            logger.warning("event for another bucket ignored", extra={"bucket": bucket})
            return
        try:
            clip_key = parse_clip_key(key)
        except UnusableKey as exc:
            logger.warning("unusable clip key ignored", extra={"key": key, "reason": str(exc)})
            metrics.add_metric(name="UnusableClipKeys", unit=MetricUnit.Count, value=1)
            return
        at = from_iso(record.event_time)
        sequencer = _event_order(record)
        if record.event_name.startswith("ObjectRemoved"):
            clip = removed_clip(clip_key, key, at)
        elif record.event_name.startswith("ObjectCreated"):
            s3 = client("s3")
            try:
                head = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}")["Body"].read()
            except ClientError as exc:
                if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                    # Removed already; its ObjectRemoved event records the deletion.
                    logger.info("object gone before validation", extra={"key": key})
                    return
                if exc.response["Error"]["Code"] == "InvalidRange":
                    head = b""
                else:
                    raise
            size = int(record.s3.get_object.size or len(head))
            clip = judge_upload(
                clip_key,
                key,
                size,
                head,
                lambda: open_range_reader(s3, bucket, key, size),
                at,
            )
        else:
            logger.info("event type ignored", extra={"event": record.event_name})
            return
        if self._clips.save_if_newer(clip, sequencer):
            metrics.add_metric(name=f"Clips_{clip.status.value}", unit=MetricUnit.Count, value=1)
            logger.info("clip recorded", extra={"key": key, "status": clip.status.value})
        else:
            logger.info("stale or replayed event ignored", extra={"key": key, "sequencer": sequencer})


def _event_order(record: S3EventRecord) -> str:
    """S3's sequencer; where an emulator leaves it out (moto does), the event time in
    microseconds as hex, which still orders events and makes a replay equal to itself."""
    sequencer = record.s3.get_object.get("sequencer")
    if sequencer:
        return sequencer
    return format(int(from_iso(record.event_time).timestamp() * 1_000_000), "X")
