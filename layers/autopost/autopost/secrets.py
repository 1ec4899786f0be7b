"""Secrets: given directly (locally, tests) or read from Secrets Manager by ARN (in AWS),
through powertools parameters, which caches them for five minutes in a warm environment."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from pydantic import SecretStr

from autopost.aws import client
from autopost.crypto import TokenCipher
from autopost.runtime import warm
from autopost.settings import Settings, get_settings

CACHE_SECONDS = 300
# What the template stores when an operator left an optional secret out.
NOT_SET = "-"


class MissingSecret(RuntimeError):
    """A secret the configuration needs is neither given nor named."""


def resolve(value: SecretStr | None, arn: str | None, name: str) -> SecretStr:
    if value is not None and value.get_secret_value() not in ("", NOT_SET):
        return value
    if arn:
        provider = parameters.SecretsProvider(boto3_client=client("secretsmanager"))
        found = str(provider.get(arn, max_age=CACHE_SECONDS))
        if found not in ("", NOT_SET):
            return SecretStr(found)
    raise MissingSecret(f"{name} is not configured (set it, or its _ARN variable)")


def service_bot_token(settings: Settings) -> SecretStr:
    """The service's own Telegram bot, for channels connected without a bot of their own."""
    return resolve(settings.telegram_bot_token, settings.telegram_bot_token_arn, "TELEGRAM_BOT_TOKEN")


@warm
def token_cipher() -> TokenCipher:
    """The cipher of this warm environment: current key plus previous ones."""
    settings = get_settings()
    current = resolve(
        settings.platform_token_secret, settings.platform_token_secret_arn, "PLATFORM_TOKEN_SECRET"
    )
    return TokenCipher(current, settings.platform_token_previous_secrets)
