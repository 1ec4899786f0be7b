"""The publications table's stream -> each publication's history, EventBridge events, and
outcome metrics. A record that fails is reported alone; the stream retries from it."""

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from autopost.infra.lazy import lazy
from autopost.infra.observability import logger, metrics, tracer
from autopost.infra.runtime import warm
from autopost.infra.settings import get_settings

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
# Loaded by the first batch (benchmarks/cold_start.py).
logic = lazy("autopost.publication_events.changes")

if TYPE_CHECKING:  # the module itself loads lazily, on the first message
    from autopost.publication_events.changes import EventPublisher


# Settings only this function uses: the history it writes and the bus it puts events on.
NEEDS = ("history_table", "event_bus_name")


@warm
def publication_events() -> "EventPublisher":
    return logic.publication_events_from_settings(get_settings().require(*NEEDS))


def record_handler(record: DynamoDBRecord) -> None:
    change = record.dynamodb
    if change is None:
        return
    publication_events().handle(
        change.old_image or None,
        change.new_image or None,
        change.sequence_number or "0",
        change.approximate_creation_date_time,
    )


@logger.inject_lambda_context
# Records carry users' titles and error texts: not for traces.
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
