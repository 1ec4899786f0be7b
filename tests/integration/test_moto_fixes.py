"""devstack.moto_fixes: moto's transactions roll back only what they touched, and hold up
while other threads write the same tables; a state machine definition is parsed once."""

from __future__ import annotations

import json
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser

from devstack import moto_fixes
from devstack.event_sources import first_shard_iterator

TABLE = "fixes-table"


@pytest.fixture
def dynamodb():
    moto_fixes.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-central-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        yield client


def put(pk, **attributes):
    return {
        "Put": {"TableName": TABLE, "Item": {"pk": {"S": pk}, **{k: {"S": v} for k, v in attributes.items()}}}
    }


def item(client, pk):
    return client.get_item(TableName=TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")


def test_a_cancelled_transaction_puts_back_only_what_it_touched(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "kept"}, "v": {"S": "old"}, "g": {"S": "a"}})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "other"}, "v": {"S": "untouched"}})
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                put("kept", v="new", g="b"),
                put("fresh", v="x"),
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "other"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert item(dynamodb, "kept") == {"pk": {"S": "kept"}, "v": {"S": "old"}, "g": {"S": "a"}}
    assert item(dynamodb, "fresh") is None
    assert item(dynamodb, "other")["v"] == {"S": "untouched"}
    # The index agrees with the table again.
    found = dynamodb.query(
        TableName=TABLE,
        IndexName="by_g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "a"}},
    )
    assert [i["pk"]["S"] for i in found["Items"]] == ["kept"]


def test_a_cancelled_transaction_leaves_nothing_in_the_tables_stream():
    """DynamoDB streams what a transaction commits; moto streamed each write as it went."""
    moto_fixes.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-central-1")
        arn = client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        client.put_item(TableName=TABLE, Item={"pk": {"S": "taken"}})
        with pytest.raises(client.exceptions.TransactionCanceledException):
            client.transact_write_items(
                TransactItems=[
                    put("fresh", v="x"),
                    {
                        "Put": {
                            "TableName": TABLE,
                            "Item": {"pk": {"S": "taken"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        client.transact_write_items(TransactItems=[put("committed", v="y")])
        streams = boto3.client(
            "dynamodbstreams", region_name="eu-central-1", config=Config(account_id_endpoint_mode="disabled")
        )
        records = streams.get_records(ShardIterator=first_shard_iterator(streams, arn))["Records"]
        assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records] == [
            ("INSERT", "taken"),
            ("INSERT", "committed"),
        ]


def test_a_committed_transaction_writes_everything(dynamodb):
    dynamodb.transact_write_items(TransactItems=[put("one", v="1"), put("two", v="2")])
    assert item(dynamodb, "one")["v"] == {"S": "1"} and item(dynamodb, "two")["v"] == {"S": "2"}


def test_transactions_hold_while_other_threads_write_the_table(dynamodb):
    """What crashed moto before ("dictionary changed size during iteration")."""
    errors: list[Exception] = []

    def writer(prefix):
        try:
            for index in range(150):
                dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": f"{prefix}-{index}"}})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def transactions(prefix):
        try:
            for index in range(60):
                dynamodb.transact_write_items(
                    TransactItems=[put(f"{prefix}-a{index}"), put(f"{prefix}-b{index}")]
                )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(3)]
    threads += [threading.Thread(target=transactions, args=(f"t{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert dynamodb.scan(TableName=TABLE, Select="COUNT")["Count"] == 3 * 150 + 3 * 120


PASS_THROUGH = json.dumps(
    {
        "StartAt": "Echo",
        "States": {"Echo": {"Type": "Pass", "Parameters": {"seen.$": "$.value"}, "End": True}},
    }
)


def test_a_definition_is_parsed_once_and_each_execution_runs_on_its_own(monkeypatch):
    moto_fixes.install()
    parses = []
    original = ASLParser.state_machine
    monkeypatch.setattr(ASLParser, "state_machine", lambda self: parses.append(1) or original(self))
    definition = PASS_THROUGH.replace("Echo", f"Echo{uuid.uuid4().hex[:6]}")  # not parsed before
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[arg-type]
        sfn = boto3.client("stepfunctions", region_name="eu-central-1")
        machine = sfn.create_state_machine(
            name="echo", definition=definition, roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]
        runs = [
            sfn.start_execution(stateMachineArn=machine, name=f"run-{n}", input=json.dumps({"value": n}))[
                "executionArn"
            ]
            for n in range(3)
        ]
        outputs = []
        for run in runs:
            deadline = time.monotonic() + 10
            while (described := sfn.describe_execution(executionArn=run))["status"] == "RUNNING":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            outputs.append(json.loads(described["output"]))
        assert len(parses) == 1  # at create_state_machine; the executions reuse its tree
        with pytest.raises(ClientError, match="ASLParserException"):  # still refused, and not kept
            sfn.create_state_machine(
                name="broken", definition='{"StartAt": 1}', roleArn="arn:aws:iam::1:role/r"
            )
    assert outputs == [{"seen": 0}, {"seen": 1}, {"seen": 2}]
