"""The clip in S3 as an upload source: streamed by ranges, or shared by a presigned URL."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from autopost.clip_validator.rules import CONTENT_TYPES
from autopost.domain.models import Clip
from autopost.providers.base import ClipSource


def clip_source(
    s3: Any,
    bucket: str,
    key: str,
    head: dict[str, Any],
    clip: Clip | None,
    signer: Callable[[], Any] | None = None,
) -> ClipSource:
    """The clip in S3 as an upload source: every `open(offset)` is a ranged GET whose body
    streams, so nothing ever holds the whole file (benchmarks/upload_stream.py measures it);
    `share(seconds)` is a presigned GET for a platform that fetches the file itself, signed
    by `signer`'s key where there is one (a URL without a session token: Rutube's 512 bytes)."""
    extension = key.rsplit(".", 1)[-1].lower()
    return ClipSource(
        size=int(head["ContentLength"]),
        filename=posixpath.basename(key),
        content_type=CONTENT_TYPES.get(extension, "application/octet-stream"),
        open=lambda offset: s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-")["Body"],
        share=lambda seconds: ((signer() if signer else None) or s3).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
        ),
        duration_seconds=clip.duration_seconds if clip else None,
        width=clip.width if clip else None,
        height=clip.height if clip else None,
    )
