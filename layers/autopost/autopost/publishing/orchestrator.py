"""Starts and stops the publish state machine's executions."""

from __future__ import annotations

import json

from botocore.exceptions import BotoCoreError, ClientError

from autopost.domain.clock import to_iso
from autopost.domain.errors import OrchestrationUnavailable
from autopost.domain.models import Publication
from autopost.infra.aws import client
from autopost.infra.observability import logger
from autopost.infra.settings import Settings


def execution_arn(state_machine_arn: str, execution_name: str) -> str:
    # arn:aws:states:REGION:ACCOUNT:stateMachine:NAME -> ...:execution:NAME:EXECUTION
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{execution_name}"


def execution_input(
    publication: Publication,
    retry_delays: tuple[int, ...],
    processing_timeout_seconds: int,
    queue_waits: int,
) -> dict[str, object]:
    """The state machine's input (statemachines/publish.asl.json reads exactly these keys).
    The retry bookkeeping starts here rather than in a Pass state: one transition less on
    every publication."""
    payload: dict[str, object] = {
        "publicationId": publication.publication_id,
        "platform": publication.platform.value,
        "retryDelays": list(retry_delays),
        # `waits`: task timeouts this retry spent on our side (queued, or an attempt at work).
        "retry": {"index": 0, "max": len(retry_delays), "waits": {"n": 0}},
        "limits": {"processingSeconds": processing_timeout_seconds, "queueWaits": queue_waits},
    }
    if publication.scheduled_at is not None and publication.attempt == 0:
        payload["scheduledAt"] = to_iso(publication.scheduled_at)
    return payload


class PublishOrchestrator:
    def __init__(self, settings: Settings) -> None:
        self._state_machine_arn = settings.publish_state_machine_arn
        self._retry_delays = settings.retry_delays_seconds
        self._processing_timeout = settings.processing_timeout_seconds
        self._queue_waits = settings.queue_waits

    def start(self, publication: Publication) -> None:
        try:
            client("stepfunctions").start_execution(
                stateMachineArn=self._state_machine_arn,
                name=publication.execution_name,
                input=json.dumps(
                    execution_input(
                        publication, self._retry_delays, self._processing_timeout, self._queue_waits
                    )
                ),
            )
        except ClientError as exc:
            # The same name means this very publication attempt is already being driven.
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return
            raise OrchestrationUnavailable() from exc
        except BotoCoreError as exc:
            raise OrchestrationUnavailable() from exc

    def stop(self, publication: Publication, cause: str) -> None:
        """Stop a waiting execution. Correctness does not depend on it: a stopped-or-not
        execution finds the publication no longer `scheduled` and ends by itself."""
        arn = execution_arn(self._state_machine_arn, publication.execution_name)
        try:
            client("stepfunctions").stop_execution(executionArn=arn, cause=cause)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return
            logger.warning("stop_execution failed", extra={"execution": arn, "error": str(exc)})
        except BotoCoreError as exc:
            logger.warning("stop_execution failed", extra={"execution": arn, "error": str(exc)})
