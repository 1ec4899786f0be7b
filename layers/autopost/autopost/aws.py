"""boto3 clients with explicit timeouts, created on first use and reused in a warm Lambda."""

from __future__ import annotations

from typing import Any

from autopost.lazy import lazy
from autopost.runtime import warm
from autopost.settings import get_settings

# Loaded with the first client: a route or an event that needs no AWS call never pays for it.
boto3 = lazy("boto3")
botocore_config = lazy("botocore.config")


@warm
def client(service: str) -> Any:
    settings = get_settings()
    config = botocore_config.Config(
        connect_timeout=settings.aws_timeout_seconds,
        read_timeout=settings.aws_timeout_seconds,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=config,
    )
