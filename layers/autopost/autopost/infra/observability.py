"""The one Logger, Metrics and Tracer of the service; every module imports them from here."""

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer

from autopost.infra.tracing import XRayProvider

SERVICE = "autopost"

# Only AWS SDK calls get subsegments. An HTTP client's subsegment records the request URL,
# and the Telegram Bot API puts the bot token in it; platform calls are timed by metrics.
TRACED_MODULES = ("botocore",)

logger = Logger(service=SERVICE)
NAMESPACE = "Autopost"
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Not the X-Ray SDK: its import alone costs a cold start as much as boto3 (see autopost.infra.tracing).
tracer = Tracer(service=SERVICE, patch_modules=TRACED_MODULES, provider=XRayProvider())

# Libraries that would write secrets at DEBUG: httpx logs URLs (Telegram's carry the bot
# token), botocore logs response bodies (Secrets Manager's hold secrets), and powertools'
# resolver logs route arguments (an OAuth callback's are the authorization code).
for _name, _level in (
    ("httpx", logging.WARNING),
    ("httpcore", logging.WARNING),
    ("botocore", logging.WARNING),
    ("urllib3", logging.WARNING),
    ("aws_lambda_powertools.event_handler", logging.INFO),
):
    logging.getLogger(_name).setLevel(_level)
