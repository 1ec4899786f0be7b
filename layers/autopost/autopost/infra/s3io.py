"""A seekable, read-only view of an S3 object that fetches only the byte ranges asked for.

Metadata parsers seek around a file (an MP4's `moov` box may sit at the end); this lets
them do so without downloading the object.
"""

from __future__ import annotations

import io
from typing import Any


class S3RangeReader(io.RawIOBase):
    def __init__(self, s3: Any, bucket: str, key: str, size: int) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._size = size
        self._position = 0
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size or len(buffer) == 0:
            return 0
        end = min(self._size, self._position + len(buffer)) - 1
        response = self._s3.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{end}"
        )
        data = response["Body"].read()
        self.requests += 1
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def open_range_reader(
    s3: Any, bucket: str, key: str, size: int, buffer_size: int = 256 * 1024
) -> io.BufferedReader:
    return io.BufferedReader(S3RangeReader(s3, bucket, key, size), buffer_size=buffer_size)
