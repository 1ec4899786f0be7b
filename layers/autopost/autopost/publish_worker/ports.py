"""What the upload worker talks to, and how the running function builds it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from autopost.connecting.throttling import RequestBudgets
from autopost.connecting.token_refresh import TokenRefresher
from autopost.domain.models import Credentials
from autopost.domain.platforms import Platform
from autopost.domain.task_errors import TaskError, TaskFailure
from autopost.infra.aws import client
from autopost.infra.secrets import MissingSecret, import_signer, service_bot_token, token_cipher
from autopost.infra.settings import Settings
from autopost.providers import provider_for
from autopost.providers.base import Provider
from autopost.publishing.orchestrator import PublishOrchestrator
from autopost.storage.channel_claims import ChannelClaims
from autopost.storage.clips import ClipRepository
from autopost.storage.connections import ConnectionRepository
from autopost.storage.publications import PublicationRepository
from autopost.storage.rate_limits import RateLimiter


@dataclass
class WorkerPorts:
    """What the worker talks to; built once per warm environment."""

    publications: PublicationRepository
    clips: ClipRepository
    connections: ConnectionRepository
    claims: ChannelClaims
    refresher: TokenRefresher
    budgets: RequestBudgets
    providers: Callable[[Platform, Callable[[Credentials], None] | None], Provider]
    service_bot_token: Callable[[], SecretStr]
    s3: Any
    sfn: Any
    sqs: Any
    orchestrator: PublishOrchestrator
    bucket: str
    queue_urls: dict[Platform, str]
    # Bounds on how soon the state machine asks again about a clip still processing.
    check_seconds: tuple[int, int] = (10, 300)
    # S3 that signs import URLs without a session token (None: `s3` signs).
    signer: Callable[[], Any] | None = None


def ports_from_settings(settings: Settings) -> WorkerPorts:
    connections = ConnectionRepository(settings, token_cipher)

    def service_bot() -> SecretStr:
        try:
            return service_bot_token(settings)
        except MissingSecret as exc:
            raise TaskFailure(
                TaskError.TOKEN_EXPIRED, "Бот сервиса не настроен: переподключите Telegram"
            ) from exc

    return WorkerPorts(
        publications=PublicationRepository(settings),
        clips=ClipRepository(settings),
        connections=connections,
        claims=ChannelClaims(settings),
        refresher=TokenRefresher(settings, connections),
        budgets=RequestBudgets(RateLimiter(settings)),
        providers=lambda platform, throttle: provider_for(platform, settings, throttle),
        service_bot_token=service_bot,
        s3=client("s3"),
        sfn=client("stepfunctions"),
        sqs=client("sqs"),
        orchestrator=PublishOrchestrator(settings),
        bucket=settings.clips_bucket,
        queue_urls=settings.upload_queue_urls,
        check_seconds=(settings.processing_check_min_seconds, settings.processing_check_max_seconds),
        signer=lambda: import_signer(settings),
    )
