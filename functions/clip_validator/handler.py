"""S3 object events, delivered through the clip-events queue -> clip records."""

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from autopost.infra.lazy import lazy
from autopost.infra.observability import logger, metrics, tracer
from autopost.infra.runtime import warm
from autopost.infra.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS)
# Loaded by the first event (benchmarks/cold_start.py).
events = lazy("autopost.clip_validator.events")

if TYPE_CHECKING:  # the module itself loads lazily, on the first message
    from autopost.clip_validator.events import ClipEventHandler


@warm
def clip_events() -> "ClipEventHandler":
    return events.ClipEventHandler(get_settings())


def record_handler(record: SQSRecord) -> None:
    clip_events().handle_message(record.json_body)


@logger.inject_lambda_context
# Responses carry what a trace must not keep (an authorize URL with its state, post ids).
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
