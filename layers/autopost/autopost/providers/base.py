"""What every provider takes and returns. Tokens travel as SecretStr: never in repr or logs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, Protocol

from pydantic import SecretStr

from autopost.platforms import Platform


@dataclass(frozen=True)
class Credentials:
    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: datetime | None = None
    account_id: str = ""
    # Platform specifics that are not secret: VK ID's device_id, a Telegram channel.
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClipSource:
    """The clip's bytes: `open(offset)` gives a stream from that byte (an S3 ranged GET)."""

    size: int
    filename: str
    content_type: str
    open: Callable[[int], BinaryIO]


@dataclass(frozen=True)
class PostDraft:
    title: str
    description: str = ""


@dataclass(frozen=True)
class UploadResult:
    post_id: str
    url: str | None
    processing_state: str | None = None


@dataclass(frozen=True)
class PostStats:
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    reposts: int | None = None


# Called with the provider's checkpoint as soon as the platform has created something
# (a video id, a resumable upload's address and offset), so a later attempt can resume
# or reuse it instead of creating a second post.
SaveCheckpoint = Callable[[dict[str, Any]], None]


class Provider(Protocol):
    platform: Platform
    upload_timeout_seconds: float

    def upload(
        self,
        credentials: Credentials,
        clip: ClipSource,
        draft: PostDraft,
        checkpoint: dict[str, Any] | None,
        save_checkpoint: SaveCheckpoint,
        deadline: float | None = None,
    ) -> UploadResult: ...

    def refresh(self, credentials: Credentials) -> Credentials: ...

    def fetch_stats(self, credentials: Credentials, post_ids: list[str]) -> dict[str, PostStats]: ...

    def check(self, credentials: Credentials) -> Account: ...
