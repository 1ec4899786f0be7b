"""What every provider takes and returns. Tokens travel as SecretStr: never in repr or logs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from autopost.domain.models import Account, Credentials
from autopost.domain.platforms import Platform, PublishFormat


@dataclass(frozen=True)
class ClipSource:
    """The clip: `open(offset)` streams its bytes from that offset (an S3 ranged GET);
    `share(seconds)` gives a URL a platform can fetch it from (a presigned GET) for a
    platform that imports by URL. What the validator read is passed along."""

    size: int
    filename: str
    content_type: str
    open: Callable[[int], BinaryIO]
    share: Callable[[int], str] | None = None
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class PostDraft:
    title: str
    description: str = ""
    # VK only: PublishFormat.CLIP (the default) or PublishFormat.VIDEO.
    format: PublishFormat = PublishFormat.CLIP

    @property
    def text(self) -> str:
        """Title and description as one text, for platforms with a caption only."""
        return f"{self.title}\n\n{self.description}" if self.description else self.title


@dataclass(frozen=True)
class Published:
    """The post exists and is final on the platform."""

    post_id: str
    url: str | None
    processing_state: str | None = None
    # What the platform made of it where that can differ from what was asked (VK: a clip
    # asked for may become a regular video when the token may not use the clip methods).
    published_as: str | None = None


@dataclass(frozen=True)
class Processing:
    """The platform has the clip and is still working on it (encoding, fetching,
    moderation): ask again in `check_after` seconds. `state` is what it said, in words."""

    state: str
    check_after: float


PublishOutcome = Published | Processing


@dataclass(frozen=True)
class PostStats:
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    reposts: int | None = None


# Called with the provider's checkpoint as soon as the platform has created something
# (a video id, a resumable upload's address and offset, an upload's hash), so a later
# attempt resumes from it instead of creating a second post.
SaveCheckpoint = Callable[[dict[str, Any]], None]


class Provider(Protocol):
    platform: Platform
    upload_timeout_seconds: float

    def publish(
        self,
        credentials: Credentials,
        clip: ClipSource,
        draft: PostDraft,
        checkpoint: dict[str, Any] | None,
        save_checkpoint: SaveCheckpoint,
        deadline: float | None = None,
    ) -> PublishOutcome:
        """One step of publishing: create, upload, or check on processing, resuming from
        `checkpoint`. Returns Published, or Processing to be called again later."""
        ...

    def refresh(self, credentials: Credentials) -> Credentials: ...

    def fetch_stats(self, credentials: Credentials, post_ids: list[str]) -> dict[str, PostStats]: ...

    def check(self, credentials: Credentials) -> Account: ...
