"""`Idempotency-Key`, with Stripe's semantics, on the requests that start work (publish,
cancel, retry): the same key with the same body within 24 hours answers the first answer
again and does nothing; the same key with another body is a 422; while the first is still
running, a second gets 409 with Retry-After. Keys are the caller's own (one user's key never
meets another's) and kept per operation. Built on powertools' idempotency utility, its
records in the Control table (`pk`, TTL `expires_at`, as every control item).

Only answers that did something are kept (2xx): a refused request stays refused on its
merits when repeated, and a repeat after the cause is gone may go through.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from autopost.domain.errors import IdempotencyKeyReused, IdempotentRequestInProgress, InvalidRequest
from autopost.domain.models import Caller
from autopost.infra.aws import client
from autopost.infra.lazy import lazy
from autopost.infra.runtime import warm
from autopost.infra.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

# Only a request that carries the header loads it (it brings boto3's DynamoDB types along).
idempotency = lazy("aws_lambda_powertools.utilities.idempotency")

HEADER = "idempotency-key"
LIFETIME_SECONDS = 24 * 3600
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, as Stripe accepts

M = TypeVar("M", bound=BaseModel)


@warm
def _persistence() -> DynamoDBPersistenceLayer:
    return idempotency.DynamoDBPersistenceLayer(
        table_name=get_settings().control_table,
        key_attr="pk",
        expiry_attr="expires_at",
        boto3_client=client("dynamodb"),
    )


@warm
def _config() -> IdempotencyConfig:
    return idempotency.IdempotencyConfig(
        event_key_jmespath="[user, operation, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=LIFETIME_SECONDS,
        raise_on_no_idempotency_key=True,
    )


class _NotKept(Exception):
    """Carries a refusal out of the idempotent function, so powertools keeps nothing."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        super().__init__(str(error))


def once(
    router: Router,
    caller: Caller,
    operation: str,
    body: BaseModel | None,
    answer_type: type[M],
    run: Callable[[], tuple[M, int]],
) -> tuple[M, int]:
    """Run `run` once per (caller, operation, Idempotency-Key); without the header, just run it."""
    key = router.current_event.headers.get(HEADER)
    if key is None:
        return run()
    if not _KEY.fullmatch(key):
        raise InvalidRequest(
            "Idempotency-Key: от 1 до 255 печатных символов ASCII", {"field": "Idempotency-Key"}
        )

    config = _config()
    # A request whose Lambda died leaves its key "in progress" only until that Lambda's
    # deadline, not for the key's whole lifetime.
    config.register_lambda_context(router.lambda_context)

    @idempotency.idempotent_function(
        data_keyword_argument="request", persistence_store=_persistence(), config=config
    )
    def run_once(request: dict[str, Any]) -> dict[str, Any]:
        try:
            answer, status = run()
        except Exception as error:
            raise _NotKept(error) from error
        return {"status": status, "body": answer.model_dump(mode="json", by_alias=True)}

    request = {
        "user": caller.user_id,
        "operation": operation,
        "key": key,
        "body": body.model_dump(mode="json", by_alias=True) if body is not None else None,
    }
    try:
        kept = run_once(request=request)
    except _NotKept as refused:
        raise refused.error from None
    except idempotency.exceptions.IdempotencyValidationError as exc:
        raise IdempotencyKeyReused(details={"field": "Idempotency-Key"}) from exc
    except idempotency.exceptions.IdempotencyAlreadyInProgressError as exc:
        raise IdempotentRequestInProgress(details={"retryAfterSeconds": 1}) from exc
    return answer_type.model_validate(kept["body"]), int(kept["status"])
