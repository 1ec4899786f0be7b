"""Secrets: given directly (locally, tests) or read from Secrets Manager by ARN (in AWS),
through powertools parameters, which keeps them for a few minutes in a warm environment.

The token key's *previous* value comes from the same secret's `AWSPREVIOUS` stage, never
from a plain environment variable: after `put-secret-value` every environment picks up the
new key within the cache time and still reads rows under the old one (README, "Tokens").
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError
from pydantic import SecretStr

from autopost.infra.aws import client, signing_s3
from autopost.infra.crypto import TokenCipher
from autopost.infra.runtime import warm
from autopost.infra.settings import Settings, get_settings

# What the template stores when an operator left an optional secret out.
NOT_SET = "-"
CURRENT, PREVIOUS = "AWSCURRENT", "AWSPREVIOUS"


class MissingSecret(RuntimeError):
    """A secret the configuration needs is neither given nor named."""


@warm
def _provider(stage: str) -> parameters.SecretsProvider:
    # One provider (and cache) per stage: powertools' cache key does not include the stage.
    return parameters.SecretsProvider(boto3_client=client("secretsmanager"))


def _stage(arn: str, stage: str, fresh: bool = False) -> str | None:
    """The secret's value at a stage (read anew when `fresh`), or None when the stage does
    not exist (yet)."""
    seconds = get_settings().secrets_cache_seconds
    try:
        return str(_provider(stage).get(arn, max_age=seconds, force_fetch=fresh, VersionStage=stage))
    except GetParameterError as exc:
        cause = exc.__context__
        if isinstance(cause, ClientError) and cause.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def resolve(value: SecretStr | None, arn: str | None, name: str, fresh: bool = False) -> SecretStr:
    if value is not None and value.get_secret_value() not in ("", NOT_SET):
        return value
    if arn:
        found = _stage(arn, CURRENT, fresh)
        if found not in (None, "", NOT_SET):
            return SecretStr(found)
    raise MissingSecret(f"{name} is not configured (set it, or its _ARN variable)")


def service_bot_token(settings: Settings) -> SecretStr:
    """The service's own Telegram bot, for channels connected without a bot of their own."""
    return resolve(settings.telegram_bot_token, settings.telegram_bot_token_arn, "TELEGRAM_BOT_TOKEN")


def import_signer(settings: Settings) -> Any | None:
    """S3 signing with the RutubeImportSigner user's key, or None where none is configured
    (then the function's own credentials sign, and in AWS Rutube refuses the long URL)."""
    if not settings.rutube_import_signer_arn:
        return None
    found = _stage(settings.rutube_import_signer_arn, CURRENT)
    if found in (None, "", NOT_SET):
        return None
    key_id, sep, secret = str(found).strip().partition(":")
    if not sep or not key_id or not secret:
        raise MissingSecret("RUTUBE_IMPORT_SIGNER: expected accessKeyId:secretAccessKey")
    return signing_s3(key_id, secret)


def telegram_webhook_secret(settings: Settings) -> SecretStr:
    return resolve(
        settings.telegram_webhook_secret, settings.telegram_webhook_secret_arn, "TELEGRAM_WEBHOOK_SECRET"
    )


def _keys(
    value: SecretStr | None,
    arn: str | None,
    previous: tuple[SecretStr, ...],
    name: str,
    fresh: bool = False,
) -> tuple[SecretStr, tuple[SecretStr, ...]]:
    """A key and the ones before it that may still be in rows: given directly (locally,
    tests), or the secret's AWSCURRENT and AWSPREVIOUS stages."""
    current = resolve(value, arn, name, fresh)
    if arn and not (value and value.get_secret_value()):
        before = _stage(arn, PREVIOUS, fresh)
        return current, (SecretStr(before),) if before else ()
    return current, previous


def token_secrets(settings: Settings, fresh: bool = False) -> tuple[SecretStr, tuple[SecretStr, ...]]:
    """The current token key and the ones before it that may still be in rows."""
    return _keys(
        settings.platform_token_secret,
        settings.platform_token_secret_arn,
        settings.platform_token_previous_secrets,
        "PLATFORM_TOKEN_SECRET",
        fresh,
    )


def webhook_secrets(settings: Settings, fresh: bool = False) -> tuple[SecretStr, tuple[SecretStr, ...]]:
    """The webhook signing secrets' key (a key of its own) and the ones before it."""
    return _keys(
        settings.webhook_secret_key,
        settings.webhook_secret_key_arn,
        settings.webhook_secret_previous_keys,
        "WEBHOOK_SECRET_KEY",
        fresh,
    )


def token_cipher(fresh: bool = False) -> TokenCipher:
    """The cipher for the keys as they are now: a new current key (a rotation) gives a new
    cipher within the secrets' cache time, so a warm environment never keeps writing rows
    under a key that is being retired; `fresh` reads them again at once."""
    return _cipher_for(*token_secrets(get_settings(), fresh))


def webhook_cipher(fresh: bool = False) -> TokenCipher:
    """The same, for webhook signing secrets."""
    return _cipher_for(*webhook_secrets(get_settings(), fresh))


def _cipher_for(current: SecretStr, previous: tuple[SecretStr, ...]) -> TokenCipher:
    return _cipher(current.get_secret_value(), tuple(p.get_secret_value() for p in previous))


@warm
def _cipher(current: str, previous: tuple[str, ...]) -> TokenCipher:
    return TokenCipher(SecretStr(current), [SecretStr(p) for p in previous])
