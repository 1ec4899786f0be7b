"""Settings read from the environment once per Lambda environment, validated by pydantic.

Nothing here runs at import: `get_settings()` parses on first use, so a missing or malformed
variable fails the first invocation with a message naming it, and tests can set the
environment before anything reads it. A plain pydantic model over `os.environ`, not
pydantic-settings: that package's import (its sources for dotenv, CLI, cloud secrets) added
a tenth of a second to every cold start for what one validator does here.
"""

import json
import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from autopost.domain.platforms import DEFAULT_LIMITS, DEFAULT_PLANS, Platform, PlatformLimit
from autopost.infra.runtime import warm


class SettingsError(RuntimeError):
    """The environment does not describe a runnable configuration."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    aws_region: str = Field(default="eu-central-1", validation_alias="AWS_REGION")
    # Set only locally (moto server); in AWS the SDK finds the endpoints itself.
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")

    clips_table: str = Field(validation_alias="CLIPS_TABLE")
    publications_table: str = Field(validation_alias="PUBLICATIONS_TABLE")
    connections_table: str = Field(validation_alias="CONNECTIONS_TABLE")
    control_table: str = Field(validation_alias="CONTROL_TABLE")
    # Each publication's story (its events, its statistics over time) and webhook endpoints.
    history_table: str = Field(default="", validation_alias="HISTORY_TABLE")
    webhooks_table: str = Field(default="", validation_alias="WEBHOOKS_TABLE")
    # Where publication events go (EventBridge); operators route them with rules.
    event_bus_name: str = Field(default="", validation_alias="EVENT_BUS_NAME")
    # Webhooks (autopost.domain.webhooks): the queue of fan-outs and deliveries, the waits before
    # each attempt (a JSON list; Standard Webhooks' schedule, about 27 h in all), the budget
    # of each delivery in all (DNS, connect, TLS, send, answer); private targets only for the
    # local stack and tests, and a CA to trust beside the public ones (a test's self-signed
    # receiver). https stays mandatory.
    webhook_queue_url: str = Field(default="", validation_alias="WEBHOOK_QUEUE_URL")
    # Where a delivery goes after the schedule's last attempt failed (the function sends it).
    webhook_dead_letter_queue_url: str = Field(default="", validation_alias="WEBHOOK_DEAD_LETTER_QUEUE_URL")
    webhook_retry_seconds: tuple[int, ...] = Field(
        default=(0, 5, 300, 1800, 7200, 18000, 36000, 36000),
        min_length=1,
        validation_alias="WEBHOOK_RETRY_SECONDS",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=30, validation_alias="WEBHOOK_TIMEOUT_SECONDS"
    )
    webhook_allow_private_targets: bool = Field(
        default=False, validation_alias="WEBHOOK_ALLOW_PRIVATE_TARGETS"
    )
    webhook_ca_file: str | None = Field(default=None, validation_alias="WEBHOOK_CA_FILE")
    clips_bucket: str = Field(validation_alias="CLIPS_BUCKET")
    publish_state_machine_arn: str = Field(default="", validation_alias="PUBLISH_STATE_MACHINE_ARN")

    retry_delays_seconds: tuple[int, int, int] = Field(
        default=(300, 900, 3600), validation_alias="RETRY_DELAYS_SECONDS"
    )
    # Task timeouts one retry may spend on our side (its message still queued, or an attempt
    # at work) before the publication fails as "not started in time": never the platform's fault.
    queue_waits: int = Field(default=12, ge=1, le=100, validation_alias="QUEUE_WAITS")
    publish_rate_per_minute: int = Field(default=20, ge=1, validation_alias="PUBLISH_RATE_PER_MINUTE")
    max_schedule_days: int = Field(default=365, ge=1, le=365, validation_alias="MAX_SCHEDULE_DAYS")
    max_request_bytes: int = Field(default=64 * 1024, ge=1024, validation_alias="MAX_REQUEST_BYTES")
    telegram_local_bot_api: bool = Field(default=False, validation_alias="TELEGRAM_LOCAL_BOT_API")
    # JSON objects overriding the defaults in autopost.domain.platforms, e.g. {"pro": ["vk"]}.
    plans: dict[str, frozenset[Platform]] = Field(
        default_factory=lambda: dict(DEFAULT_PLANS), validation_alias="PLANS"
    )
    platform_limits: dict[Platform, PlatformLimit] = Field(
        default_factory=lambda: dict(DEFAULT_LIMITS), validation_alias="PLATFORM_LIMITS"
    )
    aws_timeout_seconds: float = Field(default=10.0, gt=0, validation_alias="AWS_TIMEOUT_SECONDS")
    # Cognito puts custom claims under "custom:plan"; other OIDC providers may use "plan".
    plan_claim: str = Field(default="plan", validation_alias="PLAN_CLAIM")
    default_plan: str = Field(default="free", validation_alias="DEFAULT_PLAN")

    # -- platforms: endpoints are settings, so the emulators (or a staging API) stand in --
    vk_api_url: str = Field(default="https://api.vk.com", validation_alias="VK_API_URL")
    vk_id_url: str = Field(default="https://id.vk.com", validation_alias="VK_ID_URL")
    vk_oauth_url: str = Field(default="https://oauth.vk.com", validation_alias="VK_OAUTH_URL")
    # How VK is connected: VK ID (OAuth 2.1, refresh tokens) or, for an app VK gave no
    # extended access through VK ID, the legacy implicit flow (README, "Connecting VK").
    vk_auth_flow: Literal["vkid", "implicit"] = Field(default="vkid", validation_alias="VK_AUTH_FLOW")
    vk_client_id: str = Field(default="", validation_alias="VK_CLIENT_ID")
    # The web session of VK's own video app, through which clips are published (unofficial:
    # README, "Connecting VK").
    vk_web_url: str = Field(default="https://cabinet.vkvideo.ru", validation_alias="VK_WEB_URL")
    vk_web_api_url: str = Field(default="https://api.vkvideo.ru", validation_alias="VK_WEB_API_URL")
    telegram_api_url: str = Field(default="https://api.telegram.org", validation_alias="TELEGRAM_API_URL")
    rutube_api_url: str = Field(default="https://rutube.ru", validation_alias="RUTUBE_API_URL")
    # How long the presigned URL Rutube imports a clip from stays valid (it must outlive
    # Rutube's fetch; a URL signed with a Lambda role's credentials ends with them sooner).
    rutube_import_url_seconds: int = Field(
        default=6 * 3600, ge=300, le=7 * 24 * 3600, validation_alias="RUTUBE_IMPORT_URL_SECONDS"
    )
    # Secrets Manager: "accessKeyId:secretAccessKey" that signs Rutube's import URL without a
    # session token (it must fit 512 bytes). Unset: the function's own credentials sign it.
    rutube_import_signer_arn: str = Field(default="", validation_alias="RUTUBE_IMPORT_SIGNER_ARN")
    rutube_category_id: int = Field(default=13, ge=1, validation_alias="RUTUBE_CATEGORY_ID")
    dzen_api_url: str = Field(default="https://dzen.ru", validation_alias="DZEN_API_URL")

    # Waiting on a platform's processing: the state machine asks again after the provider's
    # suggestion kept within these bounds, and gives up after the cap.
    processing_check_min_seconds: int = Field(
        default=10, ge=1, validation_alias="PROCESSING_CHECK_MIN_SECONDS"
    )
    processing_check_max_seconds: int = Field(
        default=300, ge=1, validation_alias="PROCESSING_CHECK_MAX_SECONDS"
    )
    processing_timeout_seconds: int = Field(
        default=2 * 3600, ge=60, validation_alias="PROCESSING_TIMEOUT_SECONDS"
    )
    # The console: platforms send the user back to it after OAuth, and it completes the
    # connection with the user's own token (README, "Connecting VK").
    console_url: str = Field(default="http://127.0.0.1:3000/console/", validation_alias="CONSOLE_URL")
    # Other addresses of the same console a platform may send the user back to (locally,
    # localhost beside 127.0.0.1): each must be registered with the platform's app too.
    console_url_aliases: tuple[str, ...] = Field(default=(), validation_alias="CONSOLE_URL_ALIASES")
    # The upload queue of each platform, for a worker that delays its own message.
    upload_queue_urls: dict[Platform, str] = Field(default_factory=dict, validation_alias="UPLOAD_QUEUE_URLS")
    # Statistics: how often the sync runs; each publication is due on its own sampling grid
    # (autopost.domain.history.next_sample).
    stats_interval_minutes: int = Field(default=60, ge=1, validation_alias="STATS_INTERVAL_MINUTES")
    stats_continue_queue_url: str = Field(default="", validation_alias="STATS_CONTINUE_QUEUE_URL")
    connect_rate_per_hour: int = Field(default=5, ge=1, validation_alias="CONNECT_RATE_PER_HOUR")

    # -- secrets: a value locally, or a Secrets Manager ARN in AWS (see autopost.infra.secrets) --
    platform_token_secret: SecretStr | None = Field(default=None, validation_alias="PLATFORM_TOKEN_SECRET")
    platform_token_secret_arn: str | None = Field(default=None, validation_alias="PLATFORM_TOKEN_SECRET_ARN")
    # Earlier keys, still able to decrypt until the rotation command has re-encrypted all.
    # Only where the key is given directly (locally, tests): in AWS the secret's AWSPREVIOUS
    # stage is the previous key.
    platform_token_previous_secrets: tuple[SecretStr, ...] = Field(
        default=(), validation_alias="PLATFORM_TOKEN_PREVIOUS_SECRETS"
    )
    # Webhook signing secrets have a key of their own: the webhook function, which calls
    # addresses users choose, reads it and never the platform tokens' key.
    webhook_secret_key: SecretStr | None = Field(default=None, validation_alias="WEBHOOK_SECRET_KEY")
    webhook_secret_key_arn: str | None = Field(default=None, validation_alias="WEBHOOK_SECRET_KEY_ARN")
    webhook_secret_previous_keys: tuple[SecretStr, ...] = Field(
        default=(), validation_alias="WEBHOOK_SECRET_PREVIOUS_KEYS"
    )
    # How long a secret read from Secrets Manager is kept in a warm environment.
    secrets_cache_seconds: int = Field(default=300, ge=0, validation_alias="SECRETS_CACHE_SECONDS")
    telegram_bot_token: SecretStr | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_bot_token_arn: str | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN_ARN")
    # Telegram sends it with every update to our webhook; anything without it is refused.
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias="TELEGRAM_WEBHOOK_SECRET"
    )
    telegram_webhook_secret_arn: str | None = Field(
        default=None, validation_alias="TELEGRAM_WEBHOOK_SECRET_ARN"
    )

    @classmethod
    def from_environment(cls) -> "Settings":
        return cls.model_validate(dict(os.environ))

    def require(self, *fields: str) -> "Settings":
        """These settings, which only some functions use, are set here: checked when the
        function starts, so one that lacks a setting fails at once, naming it, not at the
        first message that needs it."""
        missing = [
            str(type(self).model_fields[name].validation_alias) for name in fields if not getattr(self, name)
        ]
        if missing:
            raise RuntimeError(f"this function needs {', '.join(missing)} (template.yaml sets them)")
        return self

    @property
    def console_urls(self) -> tuple[str, ...]:
        return (self.console_url, *self.console_url_aliases)

    @field_validator("plans", "platform_limits", "upload_queue_urls", mode="before")
    @classmethod
    def _decode_json(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError("not valid JSON") from exc
        return value

    @field_validator("console_url_aliases", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("platform_token_previous_secrets", "webhook_secret_previous_keys", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("retry_delays_seconds", mode="before")
    @classmethod
    def _parse_delays(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return tuple(int(part) for part in value.split(","))
            except ValueError as exc:
                raise ValueError("expected three whole numbers of seconds, e.g. 300,900,3600") from exc
        return value

    @field_validator("webhook_retry_seconds", mode="before")
    @classmethod
    def _parse_webhook_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError("expected a JSON list of seconds, e.g. [0, 5, 300]") from exc
        # SQS hides a message for at most 12 hours (ChangeMessageVisibility).
        if isinstance(value, list | tuple) and any(not 0 <= int(v) <= 43200 for v in value):
            raise ValueError("each wait must be 0 to 43200 seconds")
        return value

    @field_validator("platform_limits", mode="after")
    @classmethod
    def _complete_limits(cls, value: dict[Platform, PlatformLimit]) -> dict[Platform, PlatformLimit]:
        return {**DEFAULT_LIMITS, **value}

    def limit_for(self, platform: Platform) -> PlatformLimit:
        limit = self.platform_limits[platform]
        if platform is Platform.TELEGRAM and self.telegram_local_bot_api:
            return limit.model_copy(update={"max_bytes": limit.local_server_max_bytes or limit.max_bytes})
        return limit

    def plan_platforms(self, plan: str) -> frozenset[Platform]:
        return self.plans.get(plan, frozenset())


@warm
def get_settings() -> Settings:
    try:
        return Settings.from_environment()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from exc
