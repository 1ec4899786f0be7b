"""The four upload queues -> one publish attempt per message (batch size 1)."""

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from autopost.infra.lazy import lazy
from autopost.infra.observability import logger, metrics, tracer
from autopost.infra.runtime import warm
from autopost.infra.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS)
# Loaded by the first message, with the one provider it needs (benchmarks/cold_start.py).
publish_worker = lazy("autopost.publish_worker.worker")

if TYPE_CHECKING:  # the module itself loads lazily, on the first message
    from autopost.publish_worker.worker import PublishWorker


# Settings only this function uses: a late attempt is adopted under a new execution.
NEEDS = ("publish_state_machine_arn",)


@warm
def worker() -> "PublishWorker":
    return publish_worker.worker_from_settings(get_settings().require(*NEEDS))


@logger.inject_lambda_context
# Responses carry what a trace must not keep (an authorize URL with its state, post ids).
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    def record_handler(record: SQSRecord) -> None:
        worker().handle(record.json_body, lambda: context.get_remaining_time_in_millis() / 1000)

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
