"""The whole system on one machine: moto in server mode (Step Functions executing), the
template's resources, the handlers in-process behind a local API Gateway, event source
mappings and schedules, and the platform emulators. Nothing here declares a resource:
everything comes from template.yaml."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from moto.server import ThreadedMotoServer

from devstack import moto_fixes, tokens
from devstack.event_sources import Schedule, SqsMapping, StreamMapping, event_sources
from devstack.functions import Chaos, FunctionPool
from devstack.gateway import Gateway
from devstack.provision import Stack, provision
from devstack.template import ROOT
from devstack.xray import XRayDaemon
from emulators.rutube import DEMO_LOGIN, DEMO_PASSWORD
from emulators.suite import Platforms, start_platforms

# moto's server logs every request; powertools warns about every invocation without metrics.
logging.getLogger("werkzeug").setLevel(logging.ERROR)
# moto's Step Functions logs an error for every JSONPath a Choice finds absent (IsPresent on
# `$.scheduledAt`, `$.result.processing`): the expected path of every immediate publication,
# not an error; Step Functions itself says nothing. Other errors still show.
logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").addFilter(
    lambda record: not str(record.msg % record.args).startswith("Exception=NoSuchJsonPathError")
)
warnings.filterwarnings("ignore", message="No application metrics to publish")

REGION = "eu-central-1"
STATE_FILE = ROOT / ".local" / "stack.json"
# Lambda runs as many API environments as requests come; locally a few, each its own module
# copy (own warm state), as an environment is.
API_CONCURRENCY = 8
STOP_SECONDS = 1.5


class PortTaken(RuntimeError):
    pass


@dataclass
class Options:
    host: str = "127.0.0.1"
    api_port: int = 3000
    moto_port: int = 5566
    retry_delays: str | None = None
    task_timeout: int | None = None
    schedule_seconds: float | None = None
    log_level: str = "WARNING"
    state_file: Path = STATE_FILE
    # Connect attempts a user may make in an hour (the service's own is 5: the seed's
    # guard against token harvesting); a developer exploring relaxes it.
    connect_limit: int | None = None
    # Stats: the schedule's period (seconds) and how soon a post is synced again (minutes);
    # locally figures show within a minute.
    stats_every_minutes: int = 1
    # Where the handlers' X-Ray segments go (a local stand-in for the daemon); None: no tracing.
    trace_file: Path | None = None
    # Fault tests: the worker's Lambda timeout, and how often its environment is killed mid-call.
    worker_timeout: int | None = None
    chaos_kill_rate: float = 0.0
    chaos_max_kills: int = 2


@dataclass
class LocalStack:
    options: Options
    stack: Stack | None = None
    platforms: Platforms | None = None
    gateway: Gateway | None = None
    _moto: ThreadedMotoServer | None = None
    _xray: XRayDaemon | None = None
    _sources: list[SqsMapping | StreamMapping | Schedule] = field(default_factory=list)
    _pools: dict[str, FunctionPool] = field(default_factory=dict)
    started_in: float = 0.0

    @property
    def api_url(self) -> str:
        return f"http://{self.options.host}:{self.options.api_port}"

    @property
    def moto_url(self) -> str:
        return f"http://{self.options.host}:{self.options.moto_port}"

    def start(self) -> None:
        began = time.monotonic()
        for port in (self.options.api_port, self.options.moto_port):
            _ensure_free(self.options.host, port)
        os.environ.update(
            {
                "MOTO_PORT": str(self.options.moto_port),  # moto's Step Functions integrations call this port
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        moto_fixes.install()
        self._moto = ThreadedMotoServer(
            ip_address=self.options.host, port=self.options.moto_port, verbose=False
        )
        self._moto.start()
        httpx.post(
            f"{self.moto_url}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}
        ).raise_for_status()

        self.platforms = start_platforms()
        service_bot = self.platforms.telegram.add_bot(SERVICE_BOT)
        self.accounts = _demo_accounts(self.platforms)
        parameters: dict[str, Any] = {
            "JwtIssuer": tokens.ISSUER,
            "JwtAudience": tokens.AUDIENCE,
            "VkClientId": self.platforms.environment()["VK_CLIENT_ID"],
            "TelegramBotToken": service_bot,
            "ConsoleUrl": f"{self.api_url}/console/",
            # The RutubeImportSigner user's key (moto takes any): import URLs without a token.
            "RutubeImportSignerKey": "AKIALOCALRUTUBESIGNR:local-signer-secret",
            "StatsIntervalMinutes": self.options.stats_every_minutes,
        }
        if self.options.retry_delays:
            parameters["RetryDelaysSeconds"] = self.options.retry_delays
        overrides = None
        if self.options.task_timeout:
            overrides = {
                f"{p}TaskTimeoutSeconds": self.options.task_timeout
                for p in ("Vk", "Rutube", "Telegram", "Dzen")
            }
        self.stack = provision(
            stack_name="autopost",
            region=REGION,
            endpoint_url=self.moto_url,
            parameters=parameters,
            definition_overrides=overrides,
        )
        # What every function's environment has beside its own variables (as Lambda's
        # runtime does): where AWS and the platforms are, and the local stack's settings.
        base = dict(os.environ)
        environment: dict[str, str] = dict(self.platforms.environment())
        environment.update(
            {
                "AWS_ENDPOINT_URL": self.moto_url,
                "POWERTOOLS_TRACE_DISABLED": "1",
                "POWERTOOLS_METRICS_DISABLED": "1",
                "POWERTOOLS_LOG_LEVEL": self.options.log_level,
                **(
                    {"CONNECT_RATE_PER_HOUR": str(self.options.connect_limit)}
                    if self.options.connect_limit
                    else {}
                ),
                # The console as the browser may name it: 127.0.0.1 or localhost.
                "CONSOLE_URL_ALIASES": f"http://localhost:{self.options.api_port}/console/",
                # Ask again about a clip the platform still processes within seconds.
                "PROCESSING_CHECK_MIN_SECONDS": "2",
                "PROCESSING_CHECK_MAX_SECONDS": "5",
                # Webhooks may go to a receiver on this machine (in AWS: public addresses only);
                # WEBHOOK_CA_FILE from the shell trusts its self-signed certificate.
                "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
                # As Lambda's runtime does: a role's temporary credentials, with their
                # session token (long: a URL presigned with it does not fit Rutube's 512 bytes).
                "AWS_SESSION_TOKEN": LAMBDA_SESSION_TOKEN,
            }
        )
        if self.options.trace_file is not None:
            self._xray = XRayDaemon(self.options.trace_file, self.options.host)
            self._xray.start()
            environment.update(
                {
                    # As in Lambda: tracing on, the daemon's address; the stack's own calls go untraced.
                    "POWERTOOLS_TRACE_DISABLED": "0",
                    "LAMBDA_TASK_ROOT": str(ROOT),
                    "AWS_XRAY_DAEMON_ADDRESS": self._xray.address,
                    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
                }
            )
        chaos = (
            Chaos(self.options.chaos_kill_rate, self.options.chaos_max_kills)
            if self.options.chaos_kill_rate > 0
            else None
        )
        pools = {}
        for lid, spec in self.stack.functions.items():
            # The template's variables, then what differs locally (log level, endpoints).
            variables = {**base, **spec.environment, **environment}
            # The template's generated secrets are read by ARN, never passed as values.
            variables.pop("PLATFORM_TOKEN_SECRET", None)
            variables.pop("WEBHOOK_SECRET_KEY", None)
            worker = lid == WORKER
            pools[lid] = FunctionPool(
                spec,
                variables,
                concurrency=_concurrency(spec),
                traced=self.options.trace_file is not None,
                timeout=self.options.worker_timeout if worker else None,
                chaos=chaos if worker else None,
            )
        self._pools = pools
        self.gateway = Gateway(
            self.stack, pools, static={"/console/": ROOT / "web"}, emulators=self.platforms
        )
        self.gateway.console_config = self._local_console()
        self.gateway.start(self.options.host, self.options.api_port)
        self._service_bot_webhook(service_bot)
        sqs = boto3.client("sqs", endpoint_url=self.moto_url, region_name=REGION)
        streams = boto3.client("dynamodbstreams", endpoint_url=self.moto_url, region_name=REGION)
        self._sources = event_sources(self.stack, sqs, pools, self.options.schedule_seconds, streams)
        for source in self._sources:
            source.start()
        self.started_in = time.monotonic() - began
        self._write_state()

    def _local_console(self) -> dict[str, Any]:
        """What the console shows a local user: where to connect from (the emulators' demo
        accounts), in the connect dialogs."""
        return {"signIn": "local", "local": self.accounts}

    def _service_bot_webhook(self, service_bot: str) -> None:
        """What an operator does once after deploying (`make telegram-webhook`): the service
        bot's channel posts go to our webhook, with the template's generated secret."""
        assert self.stack is not None
        secret = boto3.client(
            "secretsmanager", endpoint_url=self.moto_url, region_name=REGION
        ).get_secret_value(SecretId=self.stack.ref("TelegramWebhookSecret"))["SecretString"]
        httpx.post(
            f"{self.platforms.telegram.base_url}/bot{service_bot}/setWebhook",  # type: ignore[union-attr]
            data={
                "url": f"{self.api_url}/telegram/webhook",
                "secret_token": secret,
                "allowed_updates": '["channel_post"]',
            },
        ).raise_for_status()
        self.service_bot = service_bot

    def describe(self) -> dict[str, Any]:
        assert self.stack is not None and self.platforms is not None
        return {
            "api": self.api_url,
            "console": f"{self.api_url}/console/",
            "s3": self.moto_url,
            "bucket": self.stack.ref("ClipsBucket"),
            "eventBus": self.stack.ref("EventBus"),
            "region": REGION,
            "emulators": {e.name: e.base_url for e in self.platforms.all()},
            "accounts": self.accounts,
            # What an operator's command run against this stack needs (table names, secret
            # ARNs; no secret values): the functions' shared variables.
            "environment": {
                key: value
                for key, value in self.stack.functions["ApiFunction"].environment.items()
                if key.isupper() and not key.startswith(("AWS_", "POWERTOOLS_"))
            },
        }

    def _write_state(self) -> None:
        self.options.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.options.state_file.write_text(json.dumps(self.describe(), indent=2))

    def stop(self) -> None:
        # All at once, then a short wait for them together: an invocation in flight is a
        # daemon thread and ends with the process.
        try:
            for source in self._sources:
                source.stop()
            until = time.monotonic() + STOP_SECONDS
            for source in self._sources:
                source.join(until)
            if self.gateway:
                self.gateway.stop()
            for pool in self._pools.values():
                pool.stop()
            if self.platforms:
                for emulator in self.platforms.all():
                    emulator.stop()
            if self._moto:
                self._moto.stop()
            if self._xray:
                self._xray.stop()
        finally:
            # A stack that failed to stop cleanly is still not running: `make upload` and a
            # second start must not find it.
            self.options.state_file.unlink(missing_ok=True)


SERVICE_BOT = "autopost_service_bot"
WORKER = "PublishWorkerFunction"


# The length of a real one (~1 KB), which is what matters here.
LAMBDA_SESSION_TOKEN = "IQoJb3JpZ2luX2VjELocal" + "A" * 1000


def _demo_accounts(platforms: Platforms) -> dict[str, Any]:
    """What a local user connects with, made in the emulators at start (README, make dev)."""
    telegram = platforms.telegram
    user_bot = telegram.add_bot("my_demo_bot")
    telegram.add_channel("my_demo_channel", "Мой демо-канал", admin_bots=(user_bot,))
    telegram.add_channel(
        "autopost_demo", "Демо-канал бота сервиса", admin_bots=(telegram.token_of(SERVICE_BOT),)
    )
    return {
        "telegram": {
            "channel": "@my_demo_channel",
            "botToken": user_bot,
            "serviceBot": f"@{SERVICE_BOT}",
            "serviceChannel": "@autopost_demo",
        },
        "rutube": {"login": DEMO_LOGIN, "password": DEMO_PASSWORD},
        "dzen": {"session": platforms.dzen.issue_session(name="Демо-канал Дзена")},
        "vk": {"session": platforms.vk.issue_session()},
    }


def _concurrency(spec: Any) -> int:
    if any(e["Type"] == "HttpApi" for e in spec.events.values()):
        return API_CONCURRENCY
    total = sum(
        int((e.get("Properties", {}).get("ScalingConfig") or {}).get("MaximumConcurrency", 2))
        for e in spec.events.values()
    )
    return max(1, total)


def _ensure_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortTaken(
                f"port {port} on {host} is taken: is the local stack already running? "
                f"Stop it, or choose other ports (--port, --moto-port)."
            ) from exc
