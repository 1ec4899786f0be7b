"""In-memory stand-ins for what the upload worker talks to (`WorkerPorts`), with the same
conditions as the real ones where the worker's rules depend on them: a status change only
from the status it expects, one attempt holding an upload at a time, a post recorded
whatever the status. So every worker rule runs in milliseconds; the moto and local-stack
tests prove the real parts behave the same."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from autopost.domain.clock import from_iso, utcnow
from autopost.domain.models import Connection, ConnectionStatus, Credentials, Publication
from autopost.domain.platforms import Platform
from autopost.domain.statuses import PublicationStatus, ensure_transition
from autopost.providers.base import Published, PublishOutcome
from autopost.publish_worker.ports import WorkerPorts
from autopost.publish_worker.worker import PublishWorker
from autopost.storage.errors import PublicationChanged

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


def a_publication(**changes: Any) -> Publication:
    """A VK publication being published, with `changes`."""
    base: dict[str, Any] = {
        "publication_id": "p-1",
        "user_id": "user-1",
        "clip_id": "clip-1",
        "clip_key": "clips/user-1/clip-1.mp4",
        "platform": Platform.VK,
        "status": PublicationStatus.PUBLISHING,
        "title": "Закат",
        "created_at": NOW,
        "updated_at": NOW,
        "execution_name": "p-1",
    }
    return Publication(**{**base, **changes})


class MemoryPublications:
    def __init__(self, *publications: Publication) -> None:
        self.items = {p.publication_id: p for p in publications}
        self.holds: dict[str, tuple[str, datetime]] = {}
        # Called inside the platform call: what changes "meanwhile" (a cancel, the state
        # machine giving up) happens here.
        self.during_publish: Callable[[], None] = lambda: None

    def get(self, publication_id: str) -> Publication | None:
        return self.items.get(publication_id)

    def _change(self, publication_id: str, **values: Any) -> Publication:
        changed = self.items[publication_id].model_copy(update=values)
        self.items[publication_id] = changed
        return changed

    def take_attempt(
        self, publication_id: str, owner: str, until: datetime, retry: int = 0, dispatch: str = ""
    ) -> datetime | None:
        current = self.get(publication_id)
        if current is None or current.status is not PublicationStatus.PUBLISHING:
            raise PublicationChanged(publicationId=publication_id)
        held = self.holds.get(publication_id)
        if held and held[1] >= utcnow():
            return held[1]
        self.holds[publication_id] = (owner, until)
        self._change(publication_id, attempt_retry=retry)
        return None

    def release_attempt(self, publication_id: str, owner: str) -> None:
        if self.holds.get(publication_id, ("",))[0] == owner:
            del self.holds[publication_id]

    def transition(
        self, publication_id: str, expected: PublicationStatus, target: PublicationStatus, **changes: Any
    ) -> Publication:
        ensure_transition(expected, target)
        current = self.get(publication_id)
        if current is None or current.status is not expected:
            raise PublicationChanged(publicationId=publication_id, expected=expected.value)
        times = {"published_at", "adopted_at"}
        values = {k: (from_iso(v) if k in times and isinstance(v, str) else v) for k, v in changes.items()}
        values = {k: v for k, v in values.items() if k not in {"stats_shard", "stats_due_at"}}
        return self._change(publication_id, status=target, **values)

    def record_post(
        self, publication_id: str, post_id: str, url: str | None, state: str | None, as_: Any = None
    ) -> None:
        self._change(publication_id, post_id=post_id, post_url=url, processing_state=state, published_as=as_)

    def record_processing(self, publication_id: str, state: str) -> datetime:
        current = self.get(publication_id)
        if current is None or current.status is not PublicationStatus.PUBLISHING:
            raise PublicationChanged(publicationId=publication_id)
        since = current.processing_since or utcnow()
        self._change(publication_id, processing_state=state, processing_since=since)
        return since

    def record_wait(self, publication_id: str, until: datetime) -> None:
        self._change(publication_id, retry_not_before=until)

    def record_attempt_error(self, publication_id: str, code: str, message: str) -> None:
        current = self.get(publication_id)
        if current is None or current.status is not PublicationStatus.PUBLISHING:
            raise PublicationChanged(publicationId=publication_id)
        self._change(
            publication_id,
            error_code=code,
            error_message=message,
            attempt_errors=(current.attempt_errors or 0) + 1,
        )

    def save_checkpoint(self, publication_id: str, checkpoint: dict[str, Any]) -> None:
        self._change(publication_id, upload_checkpoint=checkpoint)

    def retry(self, publication: Publication, execution_name: str, adopted: bool = False) -> Publication:
        return self.transition(
            publication.publication_id,
            PublicationStatus.FAILED,
            PublicationStatus.PUBLISHING,
            attempt=publication.attempt + 1,
            execution_name=execution_name,
            adopted_at=utcnow() if adopted else None,
        )


@dataclass
class ScriptedProvider:
    """A platform that answers each publish call with the next of `answers` (an outcome, or
    an exception to raise), after running `publications.during_publish`."""

    answers: list[PublishOutcome | Exception]
    publications: MemoryPublications
    calls: int = 0
    upload_timeout_seconds: float = 600.0

    def publish(self, credentials, clip, draft, checkpoint, save_checkpoint, deadline) -> PublishOutcome:
        self.calls += 1
        self.publications.during_publish()
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, Published):
            save_checkpoint({"posted": answer.post_id})
        return answer


@dataclass
class Recorder:
    """The AWS clients the worker calls (S3, Step Functions, SQS), recording each call."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            if name == "head_object":
                return {"ContentLength": 1024}
            return {}

        return call

    def named(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for called, kwargs in self.calls if called == name]


@dataclass
class MemoryConnections:
    connection: Connection = field(
        default_factory=lambda: Connection(
            user_id="user-1",
            platform=Platform.VK,
            status=ConnectionStatus.ACTIVE,
            account_id="1001",
            connected_at=NOW,
        )
    )

    def cached_credentials(self, user_id: str, platform: Platform) -> tuple[Connection, Credentials] | None:
        if user_id != self.connection.user_id or platform is not self.connection.platform:
            return None
        return self.connection, Credentials(SecretStr("token"), SecretStr("refresh"), account_id="1001")


class NoClipRecords:
    """The clip's validated metadata is optional to an upload: none here."""

    def get(self, user_id: str, clip_id: str) -> None:
        return None


class Budgets:
    def throttle_for(self, platform: Platform) -> None:
        return None

    def acquire(self, *args: Any) -> None:
        return None


@dataclass
class Started:
    started: list[Publication] = field(default_factory=list)

    def start(self, publication: Publication) -> None:
        self.started.append(publication)


@dataclass
class Stage:
    """One worker on memory ports, and what it touched."""

    publications: MemoryPublications
    provider: ScriptedProvider
    aws: Recorder
    orchestrator: Started
    worker: PublishWorker
    slept: list[float]

    def answers(self) -> list[tuple[str, dict[str, Any]]]:
        return [(n, kw) for n, kw in self.aws.calls if n in {"send_task_success", "send_task_failure"}]


def stage(
    publication: Publication, answers: list[PublishOutcome | Exception], now: float | None = None
) -> Stage:
    publications = MemoryPublications(publication)
    provider = ScriptedProvider(list(answers), publications)
    aws = Recorder()
    orchestrator = Started()
    slept: list[float] = []
    ports = WorkerPorts(
        publications=publications,  # type: ignore[arg-type]
        clips=NoClipRecords(),  # type: ignore[arg-type]
        connections=MemoryConnections(),  # type: ignore[arg-type]
        claims=Recorder(),  # type: ignore[arg-type]
        refresher=Recorder(),  # type: ignore[arg-type]
        budgets=Budgets(),  # type: ignore[arg-type]
        providers=lambda platform, throttle: provider,  # type: ignore[arg-type,return-value]
        service_bot_token=lambda: SecretStr("bot"),
        s3=aws,
        sfn=aws,
        sqs=aws,
        orchestrator=orchestrator,  # type: ignore[arg-type]
        bucket="clips",
        queue_urls={Platform.VK: "vk-queue"},
    )
    clock = (lambda: now) if now is not None else (lambda: utcnow().timestamp())
    worker = PublishWorker(ports, now=clock, sleep=slept.append)
    return Stage(publications, provider, aws, orchestrator, worker, slept)


def message(publication_id: str = "p-1", retry: int = 0) -> dict[str, Any]:
    return {"publicationId": publication_id, "platform": "vk", "retry": retry, "taskToken": "token-1"}
