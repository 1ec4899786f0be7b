"""Four fixes to moto (5.2.5) that the local stack (and the tests) apply, so that moto holds
a real user's load the way AWS does.

1. `TransactWriteItems` deep-copied every table it touched, on every transaction, to roll
   back on failure: quadratic in the table size (a publish got slower with every stored
   publication), and unsafe while another thread changed the table ("dictionary changed
   size during iteration"). Here a transaction keeps a copy of only the items it touches
   and puts those back on failure. The same change is written up for moto in
   docs/moto-transact-write-items.patch (to offer upstream; not sent from here: no network).
   A transaction that fails also takes back the stream records its writes made: DynamoDB
   streams only what a transaction commits.
2. DynamoDB applies each call atomically; moto's backend is not thread-safe. One lock per
   call (the server handles requests in threads; stream reads included) makes moto do the
   same, while requests still interleave between calls as they do against DynamoDB.
3. Step Functions parsed the whole state machine definition with ANTLR again for every
   execution (about 0.15 s of CPU for ours): a thousand publications spent minutes parsing
   the same text. The parse tree is kept per definition; each execution still builds its
   own program from it, so no state is shared between executions.
4. A Choice rule's timestamp comparisons (`TimestampGreaterThanPath`, ...) read only
   `2016-03-14T01:59:00Z`, while AWS reads any RFC 3339 time, with fractions and offsets,
   and moto's own `$$.State.EnteredTime` has both ("...:13.192345+00:00"): every comparison
   against it raised. Here they read what AWS reads.
"""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression as filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (
    is_operator,
)
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

_installed = False
_lock = threading.RLock()
_parse_trees: dict[str, Any] = {}
_PARSE_TREES_KEPT = 32


def install() -> None:
    """Apply the fixes once per process (the moto server and in-process mocks alike)."""
    global _installed
    with _lock:
        if _installed:
            return
        original_call = DynamoHandler.call_action

        def call_action(self: Any) -> Any:
            with _lock:
                return original_call(self)

        DynamoHandler.call_action = call_action  # type: ignore[method-assign]
        original_stream_call = DynamoDBStreamsHandler.call_action

        def stream_call_action(self: Any) -> Any:
            with _lock:
                return original_stream_call(self)

        DynamoDBStreamsHandler.call_action = stream_call_action  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        AmazonStateLanguageParser.parse = _parse_once(AmazonStateLanguageParser.parse)  # type: ignore[method-assign]
        is_operator.IsTimestamp.string_to_timestamp = staticmethod(_rfc3339)  # type: ignore[assignment]
        _installed = True


def _rfc3339(text: str) -> datetime | None:
    """An RFC 3339 time as AWS's Choice rules read it (with a zone; fractions allowed)."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def _parse_once(parse: Any) -> Any:
    def parse_definition(definition: str) -> tuple[Any, Any]:
        tree = _parse_trees.get(definition)
        if tree is None:
            program, tree = parse(definition)  # a definition that fails to parse is not kept
            with _lock:
                if len(_parse_trees) >= _PARSE_TREES_KEPT:
                    _parse_trees.clear()
                _parse_trees[definition] = tree
            return program, tree
        return Preprocessor().visit(tree), tree

    return staticmethod(parse_definition)


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


# Kept as moto writes it (one branch per operation kind), so a moto upgrade diffs cleanly.
def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:  # noqa: C901
    """moto's own, but for what it keeps to roll back: the touched items, not the tables."""

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    # What each touched item was before the transaction (None: it did not exist).
    before: list[tuple[str, dict[str, Any], Any]] = []
    for item in transact_items:
        op_type, op = next(iter(item.items()))
        if op.get("TableName") in self.tables and op_type in {"Put", "Delete", "Update", "ConditionCheck"}:
            try:
                key = _key_of(self, op_type, op)
            except KeyError:
                continue
            current = self.get_item(op["TableName"], key)
            before.append((op["TableName"], key, copy.deepcopy(current) if current is not None else None))
    streamed = {
        name: len(table.stream_shard.items)
        for name in {table_name for table_name, _, _ in before}
        if (table := self.tables[name]).stream_shard is not None
    }

    def roll_back() -> None:
        for table_name, key, old in reversed(before):
            table = self.tables[table_name]
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            if old is None:
                if self.get_item(table_name, key) is not None:
                    table.delete_item(hash_value, range_value)
            else:
                table.put_item(old.to_json()["Attributes"])
        for name, length in streamed.items():
            shard = self.tables[name].stream_shard
            if shard is not None:
                del shard.items[length:]

    target_items: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            key = _key_of(self, op_type, op)
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in target_items:
                raise MultipleTransactionsException()
            target_items.add(unique)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition = filter_expression(condition_expression, names, values)
                if not condition.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            roll_back()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - moto's own handling: the error is reported in the cancellation
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        roll_back()
        raise TransactionCanceledException(errors)
