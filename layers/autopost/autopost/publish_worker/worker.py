"""The upload worker: one queue message is one step of publishing one publication.

The message carries the state machine's task token. The worker answers it with
SendTaskSuccess once the publication is `published`, or while the platform is still
processing the clip (the output says so, and the state machine waits and asks again), or
SendTaskFailure with a TaskError name after recording the user's message on the
publication. A platform's rate limit is not an answer: the message is sent again, delayed
by the platform's retry-after.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import ClientError

from autopost.clip_validator.rules import ALLOWED_EXTENSIONS, UnusableKey, parse_clip_key
from autopost.connecting.throttling import TELEGRAM_POSTS
from autopost.domain.clock import to_iso, utcnow
from autopost.domain.errors import (
    AutopostError,
    DuplicatePublication,
    PlatformError,
    PlatformRateLimited,
    TokenExpired,
)
from autopost.domain.models import Credentials, Publication
from autopost.domain.platforms import Platform, PublishFormat
from autopost.domain.stats_schedule import stats_schedule
from autopost.domain.statuses import PublicationStatus
from autopost.domain.task_errors import TaskError, TaskFailure
from autopost.infra.observability import NAMESPACE, SERVICE, logger, metrics
from autopost.infra.settings import Settings
from autopost.providers.base import PostDraft, Processing, Published, PublishOutcome
from autopost.publish_worker.clip_source import clip_source
from autopost.publish_worker.decisions import (
    AdoptAsPublished,
    AlreadyPublished,
    AnswerPublished,
    Delay,
    Failure,
    FinishEarlierPost,
    Gone,
    Sleep,
    Upload,
    after_late_post,
    check_after,
    failure_of,
    held_elsewhere,
    next_step,
    rate_limit_wait,
    too_early,
)
from autopost.publish_worker.ports import WorkerPorts, ports_from_settings
from autopost.publish_worker.task import STALE_TASK_TOKEN_ERRORS, UploadTask
from autopost.storage.errors import PublicationChanged

CLIP_MISSING = "Файл клипа не найден"
UNPROVEN_CHANNEL = "Канал Telegram не подтверждён: подключите его заново, разместив в канале код из консоли"
# Leave this much of the Lambda's time for recording the outcome.
SAFETY_SECONDS = 30.0


class PublishWorker:
    def __init__(
        self,
        ports: WorkerPorts,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ports = ports
        self._now = now
        self._sleep = sleep

    def handle(self, body: dict[str, Any], remaining_seconds: Callable[[], float]) -> None:
        task = UploadTask.model_validate(body)
        # One message per invocation (batch size 1): the invocation's metrics are this platform's.
        metrics.add_dimension(name="platform", value=task.platform.value)
        publications = self._ports.publications
        publication = self._to_upload(task, publications.get(task.publication_id))
        if publication is None or self._too_early(task, publication):
            return
        # One attempt at a time, until its Lambda's deadline: a killed attempt's hold lapses
        # with it, and a redelivered message or a retry after a timeout waits for it.
        owner = secrets.token_hex(8)
        until = utcnow() + timedelta(seconds=max(1.0, remaining_seconds()))
        try:
            held_until = publications.take_attempt(
                task.publication_id, owner, until, task.retry, task.dispatch
            )
        except PublicationChanged:
            self._to_upload(task, publications.get(task.publication_id))
            return
        if held_until is not None:
            self._requeue(task, held_elsewhere(held_until, utcnow()).seconds)
            logger.info("another attempt holds the upload", extra={"publication": task.publication_id})
            return
        try:
            # What the attempt before this one left: its checkpoint, or its post.
            current = self._to_upload(task, publications.get(task.publication_id))
            if current is not None:
                began = time.monotonic()
                try:
                    self._attempt(task, current, remaining_seconds)
                finally:
                    metrics.add_metric(
                        name="AttemptSeconds", unit=MetricUnit.Seconds, value=time.monotonic() - began
                    )
        finally:
            publications.release_attempt(task.publication_id, owner)

    def _to_upload(self, task: UploadTask, publication: Publication | None) -> Publication | None:
        """The publication when it still needs an upload; otherwise None, the task answered."""
        step = next_step(publication)
        if isinstance(step, Gone):
            self._answer_failure(task, Failure(TaskError.PUBLICATION_GONE, "Публикация отменена или удалена"))
        elif isinstance(step, AlreadyPublished):
            self._answer_success(task, step.publication)
        elif isinstance(step, FinishEarlierPost):
            self._finish(task, step.publication, step.published)
        return publication if isinstance(step, Upload) else None

    def _attempt(
        self, task: UploadTask, publication: Publication, remaining_seconds: Callable[[], float]
    ) -> None:
        try:
            outcome = self._publish(publication, remaining_seconds)
        except PlatformRateLimited as limited:
            self._wait(task, limited)
            return
        except (TaskFailure, PlatformError) as failed:
            self._answer_failure(task, failure_of(failed))
            return
        if isinstance(outcome, Processing):
            self._processing(task, outcome)
        else:
            self._finish(task, publication, outcome)

    def _too_early(self, task: UploadTask, publication: Publication) -> bool:
        """Whatever woke this attempt, nothing is posted before `scheduledAt`."""
        wait = too_early(publication, self._now())
        if isinstance(wait, Sleep):
            self._sleep(wait.seconds)
        elif isinstance(wait, Delay):
            self._requeue(task, wait.seconds)
            logger.info("woken before its time; message delayed", extra={"publication": task.publication_id})
        return isinstance(wait, Delay)

    def _requeue(self, task: UploadTask, delay: int) -> None:
        """This attempt's message again, `delay` seconds on (its task token still waiting)."""
        self._ports.sqs.send_message(
            QueueUrl=self._ports.queue_urls[task.platform], MessageBody=task.body(), DelaySeconds=delay
        )

    # -- publishing -----------------------------------------------------------------------

    def _publish(self, publication: Publication, remaining_seconds: Callable[[], float]) -> PublishOutcome:
        ports = self._ports
        head = self._clip_head(publication)
        found = ports.connections.cached_credentials(publication.user_id, publication.platform)
        if found is None:
            raise TaskFailure(
                TaskError.CONNECTION_MISSING,
                f"{publication.platform.display_name} не подключён: подключите и повторите публикацию",
            )
        connection, credentials = found
        if not connection.is_active:
            raise TokenExpired()
        if credentials.refresh_token is None and connection.expires_at and connection.expires_at <= utcnow():
            # A token without a refresh (VK's legacy flow) has lapsed: asking the platform
            # would only fail; the user must connect again.
            ports.connections.mark_expired(connection)
            raise TokenExpired()
        if connection.extra.get("service_bot"):
            # Only to a channel this user proved is theirs (a connection made before proofs
            # were required holds no claim, and a claim may have passed to its real owner).
            if not ports.claims.held_by(
                credentials.extra.get("chat_id", connection.account_id), connection.user_id
            ):
                raise TaskFailure(TaskError.CONNECTION_MISSING, UNPROVEN_CHANNEL)
            credentials = Credentials(access_token=ports.service_bot_token(), extra=credentials.extra)
        provider = ports.providers(publication.platform, ports.budgets.throttle_for(publication.platform))
        if publication.platform is Platform.TELEGRAM:
            ports.budgets.acquire(TELEGRAM_POSTS, credentials.extra.get("chat_id", connection.account_id))
        clip = clip_source(
            ports.s3,
            ports.bucket,
            publication.clip_key,
            head,
            ports.clips.get(publication.user_id, publication.clip_id),
            ports.signer,
        )
        remaining = remaining_seconds()
        deadline = time.monotonic() + min(
            provider.upload_timeout_seconds, remaining - min(SAFETY_SECONDS, remaining / 4)
        )
        checkpoint = {"value": publication.upload_checkpoint}

        def save_checkpoint(state: dict[str, Any]) -> None:
            checkpoint["value"] = state
            ports.publications.save_checkpoint(publication.publication_id, state)

        draft = PostDraft(
            title=publication.title,
            description=publication.description,
            format=PublishFormat(publication.format or PublishFormat.CLIP),
        )
        try:
            return provider.publish(credentials, clip, draft, checkpoint["value"], save_checkpoint, deadline)
        except TokenExpired:
            # Once: refresh (one worker at a time per connection), then try again.
            connection, credentials = ports.refresher.refresh(provider, connection, credentials)
            return provider.publish(credentials, clip, draft, checkpoint["value"], save_checkpoint, deadline)

    def _clip_head(self, publication: Publication) -> dict[str, Any]:
        """The clip's S3 metadata, after checking its key is this user's clip."""
        try:
            key = parse_clip_key(publication.clip_key)
        except UnusableKey as exc:
            raise TaskFailure(TaskError.REJECTED, "Некорректный путь к файлу клипа") from exc
        if key.user_id != publication.user_id or key.extension not in ALLOWED_EXTENSIONS:
            raise TaskFailure(TaskError.REJECTED, "Некорректный путь к файлу клипа")
        try:
            return self._ports.s3.head_object(Bucket=self._ports.bucket, Key=publication.clip_key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                raise TaskFailure(TaskError.CLIP_MISSING, CLIP_MISSING) from exc
            raise

    # -- outcomes -------------------------------------------------------------------------

    def _processing(self, task: UploadTask, outcome: Processing) -> None:
        """The platform is still working on the clip: the state machine waits and asks
        again (a Wait costs nothing; a Lambda sleeping would)."""
        try:
            since = self._ports.publications.record_processing(task.publication_id, outcome.state)
        except PublicationChanged:
            self._adopt(task.publication_id)
            self._answer_failure(
                task, Failure(TaskError.PUBLICATION_GONE, "Публикация больше не публикуется", record=False)
            )
            return
        output = {
            "processing": True,
            "checkAfterSeconds": check_after(outcome.check_after, self._ports.check_seconds),
            "processingSeconds": max(0, int(self._now() - since.timestamp())),
        }
        metrics.add_metric(name="ProcessingChecks", unit=MetricUnit.Count, value=1)
        self._answer(
            lambda token: self._ports.sfn.send_task_success(taskToken=token, output=json.dumps(output)), task
        )

    def _finish(self, task: UploadTask, publication: Publication, result: Published) -> None:
        publications = self._ports.publications
        publications.record_post(
            publication.publication_id,
            result.post_id,
            result.url,
            result.processing_state,
            result.published_as,
        )
        changes = {
            "error_code": None,
            "error_message": None,
            "upload_checkpoint": None,
            "published_at": to_iso(utcnow()),
            **stats_schedule(publication.publication_id, publication.platform),
        }
        try:
            published = publications.transition(
                publication.publication_id,
                PublicationStatus.PUBLISHING,
                PublicationStatus.PUBLISHED,
                **changes,
            )
        except PublicationChanged:
            current = publications.get(publication.publication_id)
            late = after_late_post(current)
            if isinstance(late, AdoptAsPublished):
                with contextlib.suppress(PublicationChanged):
                    current = publications.transition(
                        late.publication.publication_id,
                        PublicationStatus.FAILED,
                        PublicationStatus.PUBLISHED,
                        adopted_at=to_iso(utcnow()),
                        **changes,
                    )
                    metrics.add_metric(name="LateUploadAdopted", unit=MetricUnit.Count, value=1)
                    logger.warning(
                        "published after the state machine gave up",
                        extra={"publication": current.publication_id},
                    )
            # Adopted just now, or by another attempt before: answer with what is published.
            settled = after_late_post(current)
            if isinstance(settled, AnswerPublished):
                self._answer_success(task, settled.publication)
                return
            logger.warning(
                "post made but publication no longer publishing",
                extra={"publication": publication.publication_id},
            )
            return
        metrics.add_metric(name="Published", unit=MetricUnit.Count, value=1)
        self._answer_success(task, published)

    def _adopt(self, publication_id: str) -> None:
        """The state machine gave up on this publication while this attempt's upload went
        through: the clip is at the platform, processing. Publishing goes on under a new
        execution, whose attempt resumes from the checkpoint (the clip already uploaded)
        and never uploads it again. A publication cancelled or retried meanwhile is left."""
        publications = self._ports.publications
        current = publications.get(publication_id)
        if current is None or current.status is not PublicationStatus.FAILED:
            return
        try:
            adopted = publications.retry(
                current, execution_name=f"{publication_id}-adopt-{current.attempt + 1}", adopted=True
            )
        except (PublicationChanged, DuplicatePublication):
            # Retried by the user meanwhile (that execution resumes the same checkpoint), or
            # the clip has another active publication on this platform.
            logger.warning("late upload not adopted", extra={"publication": publication_id})
            return
        try:
            self._ports.orchestrator.start(adopted)
        except AutopostError:
            publications.transition(
                publication_id,
                PublicationStatus.PUBLISHING,
                PublicationStatus.FAILED,
                error_code=current.error_code,
                error_message=current.error_message,
            )
            raise
        metrics.add_metric(name="LateUploadAdopted", unit=MetricUnit.Count, value=1)
        logger.warning("late upload adopted", extra={"publication": publication_id})

    def _answer_success(self, task: UploadTask, publication: Publication) -> None:
        output = json.dumps(
            {
                "publicationId": publication.publication_id,
                "postId": publication.post_id,
                "url": publication.post_url,
            }
        )
        self._answer(lambda token: self._ports.sfn.send_task_success(taskToken=token, output=output), task)

    def _answer_failure(self, task: UploadTask, failure: Failure) -> None:
        if failure.record:
            with contextlib.suppress(PublicationChanged):  # not publishing any more: nothing to annotate
                self._ports.publications.record_attempt_error(
                    task.publication_id, failure.code or failure.error.value, failure.message
                )
        # Its own dimensions (which error), so the dashboard charts failures by error and platform.
        with single_metric(
            name="AttemptFailed",
            unit=MetricUnit.Count,
            value=1,
            namespace=NAMESPACE,
            default_dimensions={"service": SERVICE},
        ) as failed:
            failed.add_dimension(name="platform", value=task.platform.value)
            failed.add_dimension(name="error", value=failure.error.value)
        logger.info(
            "upload attempt failed", extra={"publication": task.publication_id, "error": failure.error.value}
        )
        self._answer(
            lambda token: self._ports.sfn.send_task_failure(
                taskToken=token, error=failure.error.value, cause=failure.message
            ),
            task,
        )

    def _answer(self, send: Callable[[str], Any], task: UploadTask) -> None:
        try:
            send(task.task_token.get_secret_value())
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in STALE_TASK_TOKEN_ERRORS:
                raise
            logger.info(
                "state machine no longer waits for this attempt", extra={"publication": task.publication_id}
            )

    def _wait(self, task: UploadTask, limited: PlatformRateLimited) -> None:
        """The platform asked us to wait: not a failure. A short wait delays this message;
        a long one is recorded and handed to the state machine's Wait."""
        metrics.add_metric(name="RateLimited", unit=MetricUnit.Count, value=1)
        until = datetime.fromtimestamp(self._now() + limited.retry_after, UTC)
        with contextlib.suppress(PublicationChanged):  # cancelled meanwhile: the message finds out
            self._ports.publications.record_wait(task.publication_id, until)
        wait = rate_limit_wait(limited)
        if isinstance(wait, Delay):
            self._requeue(task, wait.seconds)
            logger.info(
                "rate limited; message delayed",
                extra={"publication": task.publication_id, "seconds": wait.seconds},
            )
            return
        self._answer_failure(task, Failure(TaskError.RATE_LIMITED, limited.message, record=False))


def worker_from_settings(settings: Settings) -> PublishWorker:
    return PublishWorker(ports_from_settings(settings))
