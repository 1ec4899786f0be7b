"""API Gateway HTTP API -> the autopost resolver."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from autopost.api.app import build_app
from autopost.infra.observability import logger, metrics, tracer
from autopost.infra.runtime import warm
from autopost.infra.settings import get_settings

app = build_app()
# Settings only this function uses: it starts and stops executions, keeps history, webhooks.
NEEDS = ("publish_state_machine_arn", "history_table", "webhooks_table")


@warm
def checked() -> None:
    get_settings().require(*NEEDS)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
# Responses carry what a trace must not keep (an authorize URL with its state, post ids).
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    checked()
    return app.resolve(event, context)
