"""Event sources as AWS wires them: SQS event source mappings (batch size, maximum
concurrency, partial batch failures; visibility timeouts and redrive to the dead-letter
queue are the queues' own, in moto), DynamoDB stream mappings (in order per shard, retried
from the first failed record, parked on the failure destination after the retries), and
schedules."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from devstack.functions import FunctionPool
from devstack.provision import Stack
from devstack.template import TemplateError

LOG = logging.getLogger("devstack")


class SqsMapping:
    def __init__(
        self, sqs: Any, url: str, arn: str, pool: FunctionPool, batch_size: int, concurrency: int
    ) -> None:
        self._sqs, self._url, self._arn, self._pool = sqs, url, arn, pool
        self._batch_size, self._concurrency = batch_size, concurrency
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self._concurrency):
            thread = threading.Thread(
                target=self._poll, name=f"sqs-{self._arn.rsplit(':', 1)[-1]}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()

    def join(self, until: float) -> None:
        for thread in self._threads:
            thread.join(timeout=max(0.0, until - time.monotonic()))

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                received = self._sqs.receive_message(
                    QueueUrl=self._url,
                    MaxNumberOfMessages=self._batch_size,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                ).get("Messages", [])
            except Exception:  # noqa: BLE001 - the server is stopping or busy: poll again
                time.sleep(0.5)
                continue
            if received:
                self._deliver(received)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self._arn,
                    "awsRegion": self._arn.split(":")[3],
                }
                for m in messages
            ]
        }
        try:
            response = self._pool.invoke(event) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:  # noqa: BLE001 - an invocation error fails the whole batch, as in Lambda
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Lambda's event filtering, the part our patterns use: nested keys, a list of values
    any of which matches, and `anything-but` (which a missing field does not match)."""
    if not isinstance(event, dict):
        return False
    for key, wanted in pattern.items():
        if key not in event:
            return False
        value = event[key]
        if isinstance(wanted, dict):
            if not matches(wanted, value):
                return False
            continue
        if not any(_value_matches(w, value) for w in wanted):
            return False
    return True


def _value_matches(wanted: Any, value: Any) -> bool:
    if isinstance(wanted, dict) and set(wanted) == {"anything-but"}:
        refused = wanted["anything-but"]
        return value not in (refused if isinstance(refused, list) else [refused])
    if isinstance(wanted, dict):
        raise TemplateError(f"filter operator {sorted(wanted)} is not supported by the local stack")
    return bool(wanted == value)


def stream_event(records: list[dict[str, Any]], arn: str) -> dict[str, Any]:
    """Stream records as boto3 reads them -> the event Lambda gives a function (its times
    are epoch seconds, not the datetimes boto3 parses them into)."""

    def record(raw: dict[str, Any]) -> dict[str, Any]:
        change = dict(raw["dynamodb"])
        moment = change.get("ApproximateCreationDateTime")
        if isinstance(moment, datetime):
            change["ApproximateCreationDateTime"] = int(moment.timestamp())
        return {**raw, "dynamodb": change, "eventSourceARN": arn}

    return {"Records": [record(r) for r in records]}


class _Background:
    """One daemon thread running `_run` until stopped."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, until: float) -> None:
        self._thread.join(timeout=max(0.0, until - time.monotonic()))

    def _run(self) -> None:
        raise NotImplementedError


def filter_patterns(props: dict[str, Any]) -> list[dict[str, Any]]:
    """An event source's FilterCriteria, as patterns `matches` reads."""
    return [json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])]


def first_shard_iterator(streams: Any, arn: str) -> str:
    """Where a stream's (only, locally) shard begins."""
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return str(
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
    )


class StreamMapping(_Background):
    """Lambda's DynamoDB stream poller: one batch at a time per shard, in order. A failed
    record (batchItemFailures, or the whole batch on an error) is given again with what
    follows it; after `retries` it goes to the on-failure queue and the shard moves on."""

    def __init__(
        self,
        streams: Any,
        sqs: Any,
        arn: str,
        pool: FunctionPool,
        batch_size: int,
        retries: int,
        on_failure: str | None,
        filters: list[dict[str, Any]] | None = None,
    ) -> None:
        self._streams, self._sqs, self._arn, self._pool = streams, sqs, arn, pool
        self._filters = filters or []
        self._batch_size, self._retries, self._on_failure = batch_size, retries, on_failure
        super().__init__(f"stream-{arn.rsplit('/', 1)[-1]}")

    def _run(self) -> None:
        iterator = first_shard_iterator(self._streams, self._arn)
        pending: list[dict[str, Any]] = []
        attempts = 0
        while not self._stop.is_set():
            if len(pending) < self._batch_size:
                try:
                    answer = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size)
                except Exception:  # noqa: BLE001 - the server is stopping or busy: poll again
                    self._stop.wait(0.5)
                    continue
                iterator = answer["NextShardIterator"]
                pending += [r for r in answer["Records"] if self._wanted(r)]
            if not pending:
                self._stop.wait(0.25)
                continue
            batch = pending[: self._batch_size]
            failed_at = self._deliver(batch)
            if failed_at is None:
                del pending[: len(batch)]
                attempts = 0
                continue
            index = next(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] == failed_at)
            del pending[:index]
            attempts += 1
            if attempts > self._retries:
                self._park(pending.pop(0))
                attempts = 0
            else:
                self._stop.wait(min(5.0, 0.2 * 2**attempts))

    def _wanted(self, record: dict[str, Any]) -> bool:
        """Lambda filters the record as it would be delivered (images in DynamoDB JSON)."""
        if not self._filters:
            return True
        delivered = stream_event([record], self._arn)["Records"][0]
        return any(matches(pattern, delivered) for pattern in self._filters)

    def _deliver(self, batch: list[dict[str, Any]]) -> str | None:
        """The sequence number to give again from, or None when all went through."""
        event = stream_event(batch, self._arn)
        try:
            response = self._pool.invoke(event) or {}
        except Exception:
            LOG.exception("stream batch failed")
            return str(batch[0]["dynamodb"]["SequenceNumber"])
        failures = response.get("batchItemFailures") or []
        known = {r["dynamodb"]["SequenceNumber"] for r in batch}
        failed = [f["itemIdentifier"] for f in failures if f.get("itemIdentifier") in known]
        return min(failed, key=int) if failed else None

    def _park(self, record: dict[str, Any]) -> None:
        LOG.error(
            "stream record %s given up after %d retries", record["dynamodb"]["SequenceNumber"], self._retries
        )
        if self._on_failure:
            self._sqs.send_message(
                QueueUrl=self._on_failure,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"condition": "RetryAttemptsExhausted"},
                        "DDBStreamBatchInfo": {
                            "streamArn": self._arn,
                            "startSequenceNumber": record["dynamodb"]["SequenceNumber"],
                            "endSequenceNumber": record["dynamodb"]["SequenceNumber"],
                            "batchSize": 1,
                        },
                    }
                ),
            )


class Schedule(_Background):
    def __init__(self, pool: FunctionPool, seconds: float, payload: dict[str, Any]) -> None:
        self._pool, self._seconds, self._payload = pool, seconds, payload
        super().__init__("schedule")

    def _run(self) -> None:
        while not self._stop.wait(self._seconds):
            event = {
                **self._payload,
                "id": str(uuid.uuid4()),
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            try:
                self._pool.invoke(event)
            except Exception:
                LOG.exception("scheduled invocation failed")


def rate_seconds(expression: str) -> float:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise TemplateError(f"schedule {expression!r}: only rate(...) expressions run locally")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


def event_sources(
    stack: Stack,
    sqs: Any,
    pools: dict[str, FunctionPool],
    schedule_seconds: float | None,
    streams: Any = None,
) -> list[SqsMapping | StreamMapping | Schedule]:
    sources: list[SqsMapping | StreamMapping | Schedule] = []
    for logical_id, spec in stack.functions.items():
        for name, event in spec.events.items():
            kind, props = event["Type"], stack.resolver.resolve(event.get("Properties", {}))
            if kind == "HttpApi":
                continue  # the gateway serves these
            if kind == "SQS":
                arn = props["Queue"]
                queue = next(
                    lid for lid in stack.physical if stack.resolver.attributes.get((lid, "Arn")) == arn
                )
                concurrency = int((props.get("ScalingConfig") or {}).get("MaximumConcurrency", 2))
                sources.append(
                    SqsMapping(
                        sqs,
                        stack.ref(queue),
                        arn,
                        pools[logical_id],
                        int(props.get("BatchSize", 10)),
                        concurrency,
                    )
                )
            elif kind == "DynamoDB":
                on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
                    "Destination"
                )
                failure_queue = next(
                    (
                        lid
                        for lid in stack.physical
                        if stack.resolver.attributes.get((lid, "Arn")) == on_failure
                    ),
                    None,
                )
                sources.append(
                    StreamMapping(
                        streams,
                        sqs,
                        props["Stream"],
                        pools[logical_id],
                        int(props.get("BatchSize", 100)),
                        int(props.get("MaximumRetryAttempts", 10)),
                        stack.ref(failure_queue) if failure_queue else None,
                        filter_patterns(props),
                    )
                )
            elif kind in ("Schedule", "ScheduleV2"):
                seconds = schedule_seconds or rate_seconds(
                    props["Schedule" if kind == "Schedule" else "ScheduleExpression"]
                )
                payload = (
                    json.loads(props["Input"])
                    if props.get("Input")
                    else {
                        "version": "0",
                        "detail-type": "Scheduled Event",
                        "source": "aws.events",
                        "detail": {},
                    }
                )
                sources.append(Schedule(pools[logical_id], seconds, payload))
            else:
                raise TemplateError(
                    f"{logical_id}.{name}: event type {kind} is not supported by the local stack"
                )
    return sources
