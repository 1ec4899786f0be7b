"""Carries messages from a moto SQS queue to a handler as a Lambda SQS event, the way an
event source mapping does, deleting only what the handler did not report as failed."""

from __future__ import annotations

from typing import Any

from tests.support.lambda_context import LambdaContext


def receive_event(sqs: Any, queue_url: str, queue_arn: str, max_messages: int = 10) -> dict[str, Any] | None:
    response = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=max_messages, AttributeNames=["All"], WaitTimeSeconds=0
    )
    messages = response.get("Messages", [])
    if not messages:
        return None
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
            for message in messages
        ]
    }


def drain(
    sqs: Any,
    queue_url: str,
    queue_arn: str,
    handler: Any,
    context: LambdaContext | None = None,
    once: bool = False,
    batch_size: int = 10,
) -> list[dict[str, Any]]:
    """Deliver every waiting message once (or one batch, `once`); the batch responses."""
    responses = []
    while (event := receive_event(sqs, queue_url, queue_arn, max_messages=batch_size)) is not None:
        try:
            response = handler(event, context or LambdaContext())
        except Exception:  # noqa: BLE001 - an invocation error fails the whole batch, as in Lambda
            response = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        for record in event["Records"]:
            if record["messageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])
        responses.append(response)
        if failed or once:
            break
    return responses
