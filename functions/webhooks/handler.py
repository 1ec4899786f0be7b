"""The webhooks queue -> fan-out of events to endpoints, and signed deliveries with retries."""

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from autopost.infra.lazy import lazy
from autopost.infra.observability import logger, metrics, tracer
from autopost.infra.runtime import warm
from autopost.infra.settings import get_settings

# Every message's outcome is its own: a batch whose every message must come back (not tried,
# not due yet) is answered with all of them as failures (each already hidden), not an error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# Loaded by the first message (benchmarks/cold_start.py).
dispatch = lazy("autopost.webhooks.dispatch")

if TYPE_CHECKING:  # the module itself loads lazily, on the first message
    from autopost.webhooks.dispatch import WebhookDispatcher


# Settings only this function uses: its own queue (retries) and where deliveries give up.
NEEDS = ("webhooks_table", "webhook_queue_url", "webhook_dead_letter_queue_url")


@warm
def dispatcher() -> "WebhookDispatcher":
    return dispatch.dispatcher_from_settings(get_settings().require(*NEEDS))


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    # Records run one after another: one that could outlast the invocation is not tried but
    # hidden for a few seconds and reported failed (not an attempt), for the next invocation.
    remaining = None if lambda_context is None else lambda_context.get_remaining_time_in_millis() / 1000
    dispatcher().process(
        record.body,
        record.receipt_handle,
        int(record.attributes.approximate_receive_count),
        remaining_seconds=remaining,
    )


@logger.inject_lambda_context
# Responses carry nothing to keep; deliveries' URLs and secrets never reach a trace.
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
