"""Who is calling, and the services a request uses (built once per warm environment).

The services are loaded with the first request that uses one (`autopost.infra.lazy`): listing
clips never loads the platforms' providers, and no route pays at init for storage or AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from autopost.domain.errors import Unauthorized
from autopost.domain.models import Caller
from autopost.infra.lazy import lazy
from autopost.infra.runtime import warm
from autopost.infra.settings import get_settings

if TYPE_CHECKING:
    from autopost.connecting.service import ConnectionService
    from autopost.publishing.service import PublishingService
    from autopost.storage.clips import ClipRepository
    from autopost.storage.history import HistoryRepository

connecting_module = lazy("autopost.connecting.service")
publishing_module = lazy("autopost.publishing.service")
clips_module = lazy("autopost.storage.clips")
history_module = lazy("autopost.storage.history")
secrets_module = lazy("autopost.infra.secrets")


def caller_of(event: BaseProxyEvent) -> Caller:
    """The JWT authorizer has verified the token; its claims name the user and the plan."""
    if not isinstance(event, APIGatewayProxyEventV2):  # only an HTTP API's event carries them
        raise Unauthorized()
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
    return publishing_module.PublishingService.from_settings(get_settings())


@warm
def connecting() -> ConnectionService:
    return connecting_module.ConnectionService(get_settings(), secrets_module.token_cipher)


@warm
def history() -> HistoryRepository:
    return history_module.HistoryRepository(get_settings())


@warm
def clips() -> ClipRepository:
    return clips_module.ClipRepository(get_settings())
