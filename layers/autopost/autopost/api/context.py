"""Who is calling, and the services a request uses (built once per warm environment)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from autopost.connecting import ConnectionService
from autopost.errors import Unauthorized
from autopost.publishing import Caller, PublishingService
from autopost.runtime import warm
from autopost.secrets import token_cipher
from autopost.settings import get_settings
from autopost.storage.clips import ClipRepository


def caller_of(event: APIGatewayProxyEventV2) -> Caller:
    """The JWT authorizer has verified the token; its claims name the user and the plan."""
    settings = get_settings()
    authorizer = event.request_context.authorizer
    claims = (authorizer.jwt_claim if authorizer else None) or {}
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not user_id:
        raise Unauthorized()
    plan = claims.get(settings.plan_claim)
    return Caller(user_id=user_id, plan=plan if isinstance(plan, str) and plan else settings.default_plan)


@warm
def publishing() -> PublishingService:
    return PublishingService.from_settings(get_settings())


@warm
def connecting() -> ConnectionService:
    return ConnectionService(get_settings(), token_cipher)


@warm
def clips() -> ClipRepository:
    return ClipRepository(get_settings())
