"""The webhooks queue -> fan-out of events to endpoints, and signed deliveries with retries."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from autopost.lazy import lazy
from autopost.observability import logger, metrics, tracer
from autopost.runtime import warm
from autopost.settings import get_settings

# Every message's outcome is its own: a batch whose every delivery failed is answered with
# all of them as failures (each already hidden until its next attempt), not an error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# Loaded by the first message (benchmarks/cold_start.py).
dispatch = lazy("autopost.webhooks.dispatch")


@warm
def dispatcher() -> "dispatch.WebhookDispatcher":
    return dispatch.dispatcher_from_settings(get_settings())


def record_handler(record: SQSRecord) -> None:
    dispatcher().process(record.body, record.receipt_handle, int(record.attributes.approximate_receive_count))


@logger.inject_lambda_context
# Responses carry nothing to keep; deliveries' URLs and secrets never reach a trace.
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
