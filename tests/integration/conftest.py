"""A moto account with template.yaml's resources, and the handlers wired to it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from pydantic import SecretStr

from autopost.domain.clock import to_iso
from autopost.domain.models import Account, ConnectionStatus, Credentials
from autopost.domain.platforms import Platform
from autopost.infra import runtime
from autopost.infra.secrets import token_cipher
from autopost.infra.settings import get_settings
from autopost.providers.vk_session import session_cookies
from autopost.storage.connections import ConnectionRepository
from autopost.storage.tables import records
from devstack import moto_fixes
from devstack.event_sources import filter_patterns, first_shard_iterator, matches, stream_event
from devstack.local import LAMBDA_SESSION_TOKEN
from devstack.provision import Stack, provision
from emulators.dzen import DEFAULT_PUBLISHER
from emulators.suite import Platforms
from functions.api import handler as api_handler
from functions.clip_validator import handler as validator_handler
from functions.publication_events import handler as events_handler
from functions.publish_worker import handler as worker_handler
from tests.conftest import REGION
from tests.support.http_events import http_event
from tests.support.lambda_context import LambdaContext
from tests.support.queues import drain
from tests.support.videos import make_video


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any
    text: str = ""

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Response:
        """A handler's API Gateway answer, its JSON body parsed where it is JSON."""
        body = raw.get("body")
        try:
            parsed = json.loads(body) if body else None
        except json.JSONDecodeError:
            parsed = body
        return cls(status=raw["statusCode"], headers=raw.get("headers") or {}, body=parsed, text=body or "")


@dataclass
class Harness:
    stack: Stack
    stream_position: str | None = None

    @property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs", region_name=REGION)

    @property
    def sfn(self) -> Any:
        return boto3.client("stepfunctions", region_name=REGION)

    @property
    def bucket(self) -> str:
        return self.stack.ref("ClipsBucket")

    def api(self, method: str, path: str, **kwargs: Any) -> Response:
        return Response.of(api_handler.lambda_handler(http_event(method, path, **kwargs), LambdaContext()))

    def upload(self, user: str, clip_id: str, data: bytes, extension: str = "mp4") -> str:
        key = f"clips/{user}/{clip_id}.{extension}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return key

    def validate_uploads(self) -> list[dict[str, Any]]:
        """Run the clip validator on what S3 has sent to the clip-events queue."""
        return drain(
            self.sqs,
            self.stack.ref("ClipEventsQueue"),
            self.stack.attribute("ClipEventsQueue", "Arn"),
            validator_handler.lambda_handler,
        )

    def ready_clip(self, user: str = "user-1", clip_id: str = "clip-1", container: str = "mp4") -> str:
        self.upload(user, clip_id, make_video(container), extension=container)
        self.validate_uploads()
        return clip_id

    def connect(
        self, user: str, *platforms: Platform, status: ConnectionStatus = ConnectionStatus.ACTIVE
    ) -> None:
        """A connection row without tokens: enough for the API's checks before publishing."""
        record = records(get_settings()).connection
        for platform in platforms:
            record(
                user,
                platform.value,
                status=status.value,
                account_id=f"{platform.value}-account",
                account_name="Канал",
                connected_at=to_iso(datetime.now(UTC)),
            ).save()

    def connect_platform(
        self, platforms: Platforms, platform: Platform, user: str = "user-1", **options: Any
    ) -> Credentials:
        """A real connection: tokens issued by the platform's emulator, stored encrypted.
        VK: `session=True` connects through the signed-in VK session (clips), else VK ID
        (regular videos); `group_id` a community."""
        if platform is Platform.VK:
            extra = {"group_id": str(options["group_id"])} if options.get("group_id") else {}
            if options.get("session"):
                cookies = SecretStr(session_cookies(platforms.vk.issue_session()))
                credentials = Credentials(cookies, account_id="1001", extra={**extra, "auth": "session"})
            else:
                access, refresh = platforms.vk.issue_token(device_id="dev-1")
                extra["device_id"] = "dev-1"
                credentials = Credentials(
                    SecretStr(access), SecretStr(refresh), account_id="1001", extra=extra
                )
        elif platform is Platform.TELEGRAM:
            bot = platforms.telegram.add_bot()
            chat_id = platforms.telegram.add_channel(f"channel_{user.replace('-', '_')}", admin_bots=(bot,))
            credentials = Credentials(
                SecretStr(bot), account_id=str(chat_id), extra={"chat_id": str(chat_id)}
            )
        elif platform is Platform.RUTUBE:
            credentials = Credentials(SecretStr(platforms.rutube.issue_token()), account_id="501")
        else:
            cookies = platforms.dzen.issue_session(DEFAULT_PUBLISHER)
            credentials = Credentials(
                SecretStr(cookies), account_id=DEFAULT_PUBLISHER, extra={"publisher_id": DEFAULT_PUBLISHER}
            )
        repository = ConnectionRepository(get_settings(), token_cipher())
        repository.connect(
            user, platform, Account(credentials.account_id, platform.display_name), credentials
        )
        return credentials

    def run_workers(
        self, until: Callable[[], bool], timeout: float = 30.0, remaining_seconds: int = 300
    ) -> list[dict[str, Any]]:
        """Carry upload-queue messages to the publish worker, as the event source mappings
        do, until `until()` holds; the batch responses, in order."""
        responses: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        queues = [
            (self.stack.ref(f"{p}UploadQueue"), self.stack.attribute(f"{p}UploadQueue", "Arn"))
            for p in ("Vk", "Rutube", "Telegram", "Dzen")
        ]
        context = LambdaContext(remaining_millis=remaining_seconds * 1000)
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError(f"not done within {timeout}s; worker answers: {responses}")
            delivered = False
            for url, arn in queues:
                batch = drain(
                    self.sqs,
                    url,
                    arn,
                    worker_handler.lambda_handler,
                    context=context,
                    once=True,
                    batch_size=1,
                )
                responses.extend(batch)
                delivered = delivered or bool(batch)
            if not delivered:
                time.sleep(0.2)
        return responses

    def stream_changes(self) -> list[dict[str, Any]]:
        """Carry the publications table's new stream records to the publication-events
        function, as the stream's event source mapping does; its batch responses."""
        # moto knows the streams' classic endpoint, not the account-based one boto3 now picks.
        streams = boto3.client(
            "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
        )
        arn = self.stack.attribute("PublicationsTable", "StreamArn")
        if self.stream_position is None:
            self.stream_position = first_shard_iterator(streams, arn)
        patterns = self.stream_filters()
        responses = []
        while True:
            answer = streams.get_records(ShardIterator=self.stream_position, Limit=100)
            self.stream_position = answer["NextShardIterator"]
            if not answer["Records"]:
                return responses
            # Only what the mapping's filters let through, as Lambda does.
            delivered = [
                r
                for r in stream_event(answer["Records"], arn)["Records"]
                if any(matches(pattern, r) for pattern in patterns)
            ]
            if delivered:
                responses.append(events_handler.lambda_handler({"Records": delivered}, LambdaContext()))

    def stream_filters(self) -> list[dict[str, Any]]:
        (changes,) = self.stack.functions["PublicationEventsFunction"].events.values()
        return filter_patterns(changes["Properties"])

    def events_of(self, publication_id: str, user: str = "user-1") -> list[dict[str, Any]]:
        """The publication's history as its owner reads it, after the stream is carried."""
        self.stream_changes()
        answer = self.api("GET", f"/publications/{publication_id}/events", user=user)
        assert answer.status == 200, answer.body
        return answer.body["items"]

    def publication(self, publication_id: str, user: str = "user-1") -> dict[str, Any]:
        return self.api("GET", f"/publications/{publication_id}", user=user).body

    def status_is(self, publication_id: str, *statuses: str) -> Callable[[], bool]:
        return lambda: self.publication(publication_id)["status"] in statuses

    def executions(self) -> list[dict[str, Any]]:
        return self.sfn.list_executions(stateMachineArn=self.stack.ref("PublishStateMachine"))["executions"]


def _environment(stack: Stack) -> dict[str, str]:
    merged: dict[str, str] = {}
    for spec in stack.functions.values():
        merged.update(spec.environment)
    return merged


def task_timeouts(seconds: int) -> dict[str, int]:
    """Short task timeouts for the very same ASL file, so a silent worker times out in seconds."""
    return {f"{name}TaskTimeoutSeconds": seconds for name in ("Vk", "Rutube", "Telegram", "Dzen")}


def stop_execution(sfn: Any, arn: str) -> None:
    """Stop an execution a test left running. moto starts an execution's interpreter on a
    thread of its own: stopped in the instant before that thread has set it up, moto fails
    with AttributeError (its `env` is still None); a moment later it stops."""
    for _ in range(50):
        try:
            sfn.stop_execution(executionArn=arn)
            return
        except AttributeError:
            time.sleep(0.02)
    sfn.stop_execution(executionArn=arn)


@contextmanager
def running_stack(
    monkeypatch: pytest.MonkeyPatch, *, execute: bool, task_timeout: int = 10
) -> Iterator[Harness]:
    config = {"stepfunctions": {"execute_state_machine": execute}}
    moto_fixes.install()  # as the local stack runs moto: DynamoDB calls atomic, light transactions
    with mock_aws(config=config):  # type: ignore[arg-type]
        # A name of its own: executions of an earlier test may still run in moto's threads,
        # and must not find this test's queues under the same names.
        stack = provision(
            stack_name=f"t{uuid.uuid4().hex[:8]}",
            region=REGION,
            parameters={
                "JwtIssuer": "https://issuer.local",
                "JwtAudience": "autopost",
                "RetryDelaysSeconds": "1,1,1",
                "RutubeImportSignerKey": "AKIALOCALRUTUBESIGNR:local-signer-secret",
            },
            definition_overrides=task_timeouts(task_timeout) if execute else None,
        )
        for name, value in _environment(stack).items():
            monkeypatch.setenv(name, value)
        # Temporary credentials, as a Lambda role's: a URL presigned with them is too long
        # for Rutube's import (the signer's key signs those instead).
        monkeypatch.setenv("AWS_SESSION_TOKEN", LAMBDA_SESSION_TOKEN)
        # The state machine asks again about a clip still processing after 1 s, not 15.
        monkeypatch.setenv("PROCESSING_CHECK_MIN_SECONDS", "1")
        monkeypatch.setenv("PROCESSING_CHECK_MAX_SECONDS", "1")
        runtime.reset()
        harness = Harness(stack)
        try:
            yield harness
        finally:
            if execute:
                for execution in harness.executions():
                    if execution["status"] == "RUNNING":
                        stop_execution(harness.sfn, execution["executionArn"])
    runtime.reset()


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """Step Functions records executions but does not run them."""
    with running_stack(monkeypatch, execute=False) as stack:
        yield stack


@pytest.fixture
def executing(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Harness]:
    """moto runs the state machine: waits are real, so delays are seconds. The task timeout
    is 20 s, room for a loaded machine (the whole suite on 2 cores slowed moto's threads past
    10 s); a test about timeouts asks for less with `@pytest.mark.task_timeout(4)`."""
    marker = request.node.get_closest_marker("task_timeout")
    with running_stack(monkeypatch, execute=True, task_timeout=marker.args[0] if marker else 20) as stack:
        yield stack
