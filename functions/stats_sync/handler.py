"""The stats schedule (a fresh run) and the continuation queue (a run from a cursor)."""

import json
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.typing import LambdaContext

from autopost.infra.aws import client
from autopost.infra.lazy import lazy
from autopost.infra.observability import logger, metrics, tracer
from autopost.infra.runtime import warm
from autopost.infra.settings import get_settings

# Loaded by the first run (benchmarks/cold_start.py).
stats_sync = lazy("autopost.stats_sync.sync")

if TYPE_CHECKING:  # the module itself loads lazily, on the first message
    from autopost.stats_sync.sync import StatsSync


# Settings only this function uses: a run that runs out of time continues through the queue.
NEEDS = ("stats_continue_queue_url",)


@warm
def sync() -> "StatsSync":
    return stats_sync.stats_sync_from_settings(get_settings().require(*NEEDS))


@logger.inject_lambda_context
# Responses carry what a trace must not keep (an authorize URL with its state, post ids).
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    records = event.get("Records") or [{}]
    cursor = json.loads(records[0]["body"])["cursor"] if "body" in records[0] else None
    report = sync().run(cursor, lambda: context.get_remaining_time_in_millis() / 1000)
    if report.cursor is not None:
        client("sqs").send_message(
            QueueUrl=get_settings().stats_continue_queue_url,
            MessageBody=stats_sync.continuation_body(report.cursor),
        )
    logger.info(
        "stats sync run",
        extra={"synced": report.synced, "deferred": report.deferred, "continues": report.cursor is not None},
    )
    return {
        "synced": report.synced,
        "deferred": report.deferred,
        "platformCalls": report.platform_calls,
        "continues": report.cursor is not None,
    }
