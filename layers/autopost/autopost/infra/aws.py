"""boto3 clients with explicit timeouts, created on first use and reused in a warm Lambda."""

from __future__ import annotations

from typing import Any

from autopost.infra.lazy import lazy
from autopost.infra.runtime import warm
from autopost.infra.settings import get_settings

# Loaded with the first client: a route or an event that needs no AWS call never pays for it.
boto3 = lazy("boto3")
botocore_config = lazy("botocore.config")


@warm
def client(service: str) -> Any:
    settings = get_settings()
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=_config(),
    )


@warm
def signing_s3(access_key_id: str, secret_access_key: str) -> Any:
    """S3 that signs with a user's own key: its presigned URLs carry no session token (what
    a Lambda role's temporary credentials always add). Used only to sign, never to call."""
    settings = get_settings()
    return boto3.client(
        "s3",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=None,
        config=_config(),
    )


def _config() -> Any:
    settings = get_settings()
    return botocore_config.Config(
        connect_timeout=settings.aws_timeout_seconds,
        read_timeout=settings.aws_timeout_seconds,
        retries={"mode": "standard", "max_attempts": 3},
    )
