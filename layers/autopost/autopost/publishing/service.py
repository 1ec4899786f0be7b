"""Publishing a clip: the checks before anything is stored, creation, cancel and retry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from autopost.domain.clock import utcnow
from autopost.domain.errors import (
    AutopostError,
    ClipFileMissing,
    ClipInvalid,
    ClipNotFound,
    ClipNotReady,
    InvalidSchedule,
    PlatformChecksFailed,
    StatusConflict,
    TokenExpired,
)
from autopost.domain.models import Caller, Clip, ClipStatus, Publication, PublishDraft
from autopost.domain.platforms import Platform, format_duration, format_size
from autopost.domain.statuses import PublicationStatus
from autopost.infra.settings import Settings
from autopost.publishing.orchestrator import PublishOrchestrator
from autopost.storage.clips import ClipRepository
from autopost.storage.connections import ConnectionRepository
from autopost.storage.publications import PublicationRepository
from autopost.storage.rate_limits import Budget, RateLimiter

PUBLISH_BUDGET_WINDOW = 60
TOKEN_EXPIRED_MESSAGE = TokenExpired.default_message
CANCEL_CAUSE = "cancelled by the user"


@dataclass(frozen=True)
class PlatformProblem:
    code: str
    message: str


class PublishingService:
    def __init__(
        self,
        settings: Settings,
        *,
        clips: ClipRepository,
        publications: PublicationRepository,
        connections: ConnectionRepository,
        orchestrator: PublishOrchestrator,
        rate_limiter: RateLimiter,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._settings = settings
        self._clips = clips
        self._publications = publications
        self._connections = connections
        self._orchestrator = orchestrator
        self._rate_limiter = rate_limiter
        self._now = now
        self._publish_budget = Budget("publish", settings.publish_rate_per_minute, PUBLISH_BUDGET_WINDOW)

    @classmethod
    def from_settings(cls, settings: Settings) -> PublishingService:
        return cls(
            settings,
            clips=ClipRepository(settings),
            publications=PublicationRepository(settings),
            connections=ConnectionRepository(settings),
            orchestrator=PublishOrchestrator(settings),
            rate_limiter=RateLimiter(settings),
        )

    # -- publish ------------------------------------------------------------------------

    def publish(self, caller: Caller, clip_id: str, draft: PublishDraft) -> list[Publication]:
        self._rate_limiter.hit(self._publish_budget, caller.user_id)
        now = self._now()
        self._check_schedule(draft.scheduled_at, now)
        clip = self._ready_clip(caller, clip_id)
        problems = {
            platform: problem
            for platform in draft.platforms
            if (problem := self._platform_problem(caller, clip, platform, draft.scheduled_at)) is not None
        }
        if problems:
            raise _platform_checks_failed(problems)

        status = PublicationStatus.SCHEDULED if draft.scheduled_at else PublicationStatus.PUBLISHING
        publications = []
        for platform in draft.platforms:
            publication_id = str(uuid.uuid4())
            publications.append(
                Publication(
                    publication_id=publication_id,
                    user_id=caller.user_id,
                    clip_id=clip.clip_id,
                    clip_key=clip.key,
                    platform=platform,
                    status=status,
                    title=draft.title,
                    description=draft.description,
                    scheduled_at=draft.scheduled_at,
                    created_at=now,
                    updated_at=now,
                    execution_name=publication_id,
                    format=draft.vk_format if platform is Platform.VK else None,
                )
            )
        self._publications.create(publications, allow_republish=draft.repost)
        self._start_all_or_nothing(publications)
        return publications

    def _start_all_or_nothing(self, publications: list[Publication]) -> None:
        started: list[Publication] = []
        try:
            for publication in publications:
                self._orchestrator.start(publication)
                started.append(publication)
        except AutopostError:
            for publication in started:
                self._orchestrator.stop(publication, cause="rolled back: a sibling did not start")
            self._publications.delete_unstarted(publications)
            raise

    def _check_schedule(self, scheduled_at: datetime | None, now: datetime) -> None:
        if scheduled_at is None:
            return
        if scheduled_at <= now:
            raise InvalidSchedule("Время публикации должно быть в будущем", {"field": "scheduledAt"})
        days = self._settings.max_schedule_days
        if scheduled_at - now > timedelta(days=days):
            raise InvalidSchedule(
                f"Публикацию можно запланировать не более чем на {days} дней вперёд",
                {"field": "scheduledAt", "maxDays": days},
            )

    def _ready_clip(self, caller: Caller, clip_id: str) -> Clip:
        clip = self._clips.get(caller.user_id, clip_id)
        if clip is None:
            raise ClipNotFound(details={"clipId": clip_id})
        if clip.status is ClipStatus.DELETED:
            raise ClipFileMissing(details={"clipId": clip_id})
        if clip.status is ClipStatus.INVALID:
            raise ClipInvalid(f"Клип не прошёл проверку: {clip.reason}", {"clipId": clip_id})
        if clip.status is not ClipStatus.READY:
            raise ClipNotReady(details={"clipId": clip_id})
        return clip

    def _platform_problem(
        self, caller: Caller, clip: Clip, platform: Platform, scheduled_at: datetime | None
    ) -> PlatformProblem | None:
        name = platform.display_name
        if platform not in self._settings.plan_platforms(caller.plan):
            return PlatformProblem("PLATFORM_NOT_IN_PLAN", f"{name} недоступен на вашем тарифе")
        connection = self._connections.get(caller.user_id, platform)
        if connection is None:
            return PlatformProblem("PLATFORM_NOT_CONNECTED", f"{name} не подключён")
        if not connection.is_active:
            return PlatformProblem("CONNECTION_EXPIRED", TOKEN_EXPIRED_MESSAGE)
        if (
            not connection.refreshable
            and connection.expires_at is not None
            and scheduled_at is not None
            and scheduled_at >= connection.expires_at
        ):
            return PlatformProblem(
                "TOKEN_EXPIRES_BEFORE_PUBLICATION",
                f"Токен {name} истечёт раньше времени публикации: переподключите платформу "
                "или выберите время раньше",
            )
        limit = self._settings.limit_for(platform)
        if clip.size_bytes is not None and clip.size_bytes > limit.max_bytes:
            return PlatformProblem(
                "FILE_TOO_LARGE",
                f"Файл слишком большой для {name} (максимум {format_size(limit.max_bytes)})",
            )
        if limit.max_duration_seconds is not None and clip.duration_seconds is None:
            return PlatformProblem(
                "CLIP_DURATION_UNKNOWN",
                f"Не удалось узнать длительность клипа, а {name} принимает клипы "
                f"не длиннее {format_duration(limit.max_duration_seconds)}",
            )
        if (
            limit.max_duration_seconds is not None
            and clip.duration_seconds is not None
            and clip.duration_seconds > limit.max_duration_seconds
        ):
            return PlatformProblem(
                "CLIP_TOO_LONG",
                f"Клип слишком длинный для {name} (максимум {format_duration(limit.max_duration_seconds)})",
            )
        return None

    # -- cancel and retry ---------------------------------------------------------------

    def cancel(self, caller: Caller, publication_id: str) -> Publication:
        publication = self._publications.get_for_user(caller.user_id, publication_id)
        if publication.status is not PublicationStatus.SCHEDULED:
            raise StatusConflict(
                "Отменить можно только запланированную публикацию",
                {"status": publication.status.value},
            )
        cancelled = self._publications.transition(
            publication_id, PublicationStatus.SCHEDULED, PublicationStatus.CANCELLED
        )
        self._orchestrator.stop(cancelled, cause=CANCEL_CAUSE)
        return cancelled

    def retry(self, caller: Caller, publication_id: str) -> Publication:
        publication = self._publications.get_for_user(caller.user_id, publication_id)
        if publication.status is not PublicationStatus.FAILED:
            raise StatusConflict(
                "Повторить можно только публикацию, завершившуюся ошибкой",
                {"status": publication.status.value},
            )
        clip = self._ready_clip(caller, publication.clip_id)
        # The plan, the connection and the clip are checked again: any may have changed
        # since the publication was made (a downgraded plan must not keep a platform).
        problem = self._platform_problem(caller, clip, publication.platform, None)
        if problem is not None:
            raise _platform_checks_failed({publication.platform: problem})
        attempt = publication.attempt + 1
        retried = self._publications.retry(publication, execution_name=f"{publication_id}-retry-{attempt}")
        try:
            self._orchestrator.start(retried)
        except AutopostError as exc:
            self._publications.transition(
                publication_id,
                PublicationStatus.PUBLISHING,
                PublicationStatus.FAILED,
                error_code=exc.code,
                error_message=exc.message,
            )
            raise
        return retried

    # -- reads --------------------------------------------------------------------------

    def get(self, caller: Caller, publication_id: str) -> Publication:
        return self._publications.get_for_user(caller.user_id, publication_id)

    def list(
        self,
        caller: Caller,
        *,
        clip_id: str | None,
        status: PublicationStatus | None,
        platform: Platform | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Publication], str | None]:
        return self._publications.list_for_user(
            caller.user_id, clip_id=clip_id, status=status, platform=platform, limit=limit, cursor=cursor
        )


def _platform_checks_failed(problems: dict[Platform, PlatformProblem]) -> PlatformChecksFailed:
    details = {
        "platforms": {
            platform.value: {"code": problem.code, "message": problem.message}
            for platform, problem in problems.items()
        }
    }
    if len(problems) == 1:
        (only,) = problems.values()
        return PlatformChecksFailed(only.message, details, code=only.code)
    return PlatformChecksFailed(details=details)
