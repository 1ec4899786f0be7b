"""Publishing a clip and reading publications: the request, the publication as the user sees
it (with what will go out differently), its events and statistics."""

from __future__ import annotations

from pydantic import (
    AwareDatetime,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

from autopost.api.schemas.base import (
    ApiModel,
    ErrorInfo,
    InputModel,
    without_control_characters,
)
from autopost.domain.captions import DZEN_TITLE_CHARACTERS, TELEGRAM_CAPTION_UNITS, fit
from autopost.domain.clock import Timestamp
from autopost.domain.history import EventView
from autopost.domain.models import Publication
from autopost.domain.platforms import Platform, PublishFormat
from autopost.domain.statuses import PublicationStatus
from autopost.providers.base import PostDraft

STATS_UNAVAILABLE = "Статистика недоступна"


class VkPublishOptions(InputModel):
    format: PublishFormat = Field(
        default=PublishFormat.CLIP, description="clip (VK Clips, the default) or video (a regular VK video)"
    )


class PublishBody(InputModel):
    platforms: list[Platform] = Field(min_length=1, max_length=len(Platform))
    title: str = Field(min_length=1, max_length=200, description="One line: no control characters")
    description: str = Field(
        default="", max_length=5000, description="Line breaks allowed; no other control characters"
    )
    scheduled_at: AwareDatetime | None = Field(
        default=None, description="ISO 8601 with a time zone; omitted means now"
    )
    vk: VkPublishOptions | None = Field(default=None, description="How the clip appears on VK")
    repost: bool = Field(
        default=False, description="Publish again where this clip is already published (else 409)"
    )

    @field_validator("title")
    @classmethod
    def _title_is_one_clean_line(cls, value: str) -> str:
        return without_control_characters(value, allowed="")

    @field_validator("description")
    @classmethod
    def _description_is_clean_text(cls, value: str) -> str:
        return without_control_characters(value, allowed="\n\r\t")

    @field_validator("platforms")
    @classmethod
    def _unique(cls, platforms: list[Platform]) -> list[Platform]:
        if len(set(platforms)) != len(platforms):
            raise PydanticCustomError("duplicate_platforms", "platforms must not repeat")
        return platforms

    @field_validator("scheduled_at", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        """A time is ISO 8601 text: a number (a Unix time?) is refused, not guessed at."""
        if value is not None and not isinstance(value, str):
            raise PydanticCustomError("datetime_type", "expected ISO 8601 text")
        return value


def _notices(publication: Publication) -> list[str]:
    """What will go out differently from what was asked, derived from the publication's own
    text the way its provider sends it (so it is said before, and stays said after)."""
    if publication.platform is Platform.TELEGRAM:
        fitted = fit(PostDraft(publication.title, publication.description).text)
        if fitted.shortened:
            return [
                f"Подпись длиннее, чем берёт Telegram: {fitted.units} знаков из {TELEGRAM_CAPTION_UNITS} "
                "(эмодзи считаются за два). В канал уйдёт её начало с «…»"
            ]
    if publication.platform is Platform.DZEN:
        said = []
        if publication.description:
            said.append("Дзен: описание не отправляется (так публикует единственный известный клиент)")
        if len(publication.title) > DZEN_TITLE_CHARACTERS:
            said.append(f"Дзен: заголовок будет сокращён до {DZEN_TITLE_CHARACTERS} знаков")
        return said
    return []


class PostInfo(ApiModel):
    id: str
    url: str | None = None


class StatsOut(ApiModel):
    available: bool
    message: str | None = None
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    reposts: int | None = None
    synced_at: Timestamp | None = None


class PublicationOut(ApiModel):
    id: str
    clip_id: str
    platform: Platform
    status: PublicationStatus
    format: PublishFormat | None = Field(description="VK: clip or video, as asked")
    published_as: PublishFormat | None = Field(
        description="VK: what VK made of it (a clip asked for may become a regular video)"
    )
    processing_state: str | None = Field(description="What the platform last said while processing")
    title: str
    description: str
    scheduled_at: Timestamp | None
    published_at: Timestamp | None = Field(description="When the post went out")
    created_at: Timestamp
    updated_at: Timestamp
    attempt: int
    error: ErrorInfo | None
    post: PostInfo | None
    stats: StatsOut
    notices: list[str] = Field(
        default_factory=list,
        description="What goes out differently from what was asked, said before it goes "
        "(Telegram: a caption past 1,024 UTF-16 units is shortened)",
    )

    @classmethod
    def of(cls, publication: Publication) -> PublicationOut:
        error = (
            ErrorInfo(code=publication.error_code or "PUBLISH_FAILED", message=publication.error_message)
            if publication.error_message
            else None
        )
        post = PostInfo(id=publication.post_id, url=publication.post_url) if publication.post_id else None
        figures = publication.stats or {}
        stats = (
            StatsOut(available=False, message=STATS_UNAVAILABLE)
            if publication.platform is Platform.TELEGRAM
            else StatsOut(
                available=True,
                synced_at=publication.stats_synced_at,
                views=figures.get("views"),
                likes=figures.get("likes"),
                comments=figures.get("comments"),
                reposts=figures.get("reposts"),
            )
        )
        return cls(
            notices=_notices(publication),
            id=publication.publication_id,
            clip_id=publication.clip_id,
            platform=publication.platform,
            status=publication.status,
            format=publication.format,
            published_as=publication.published_as,
            processing_state=publication.processing_state,
            title=publication.title,
            description=publication.description,
            scheduled_at=publication.scheduled_at,
            published_at=publication.published_at,
            created_at=publication.created_at,
            updated_at=publication.updated_at,
            attempt=publication.attempt,
            error=error,
            post=post,
            stats=stats,
        )


class PublicationEvents(ApiModel):
    items: list[EventView] = Field(description="What happened to the publication, oldest first")


class StatsPoint(ApiModel):
    at: Timestamp
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    reposts: int | None = None


class StatsSeries(ApiModel):
    available: bool = Field(description="False where the platform has no statistics (Telegram)")
    message: str | None = None
    items: list[StatsPoint] = Field(
        description="Hourly the first day, every 6 h to a week, daily to 30 days, weekly after"
    )


class PublicationList(ApiModel):
    items: list[PublicationOut]
    next_cursor: str | None = None
