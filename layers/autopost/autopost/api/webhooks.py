"""/webhooks: endpoints receiving publication events signed per Standard Webhooks
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md),
and the console's view of their latest deliveries. Another user's endpoint is not found."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from autopost.api import context
from autopost.api.schemas.webhooks import (
    DeliveryList,
    DeliveryOut,
    WebhookBody,
    WebhookCreatedOut,
    WebhookList,
    WebhookOut,
)
from autopost.domain.errors import WebhookNotFound
from autopost.infra.lazy import lazy
from autopost.infra.runtime import warm
from autopost.infra.settings import get_settings

router = Router()
storage = lazy("autopost.storage.webhooks")
targets = lazy("autopost.infra.webhook_targets")
secrets_module = lazy("autopost.infra.secrets")
dispatch = lazy("autopost.webhooks.dispatch")
limits = lazy("autopost.storage.rate_limits")

if TYPE_CHECKING:
    from autopost.storage.webhooks import WebhookRepository


TEST_EVENTS_PER_HOUR = 10


@warm
def repository() -> WebhookRepository:
    return storage.WebhookRepository(get_settings(), secrets_module.webhook_cipher)


@router.post("/webhooks", summary="Register an endpoint (up to 5): its signing secret is shown only now")
def create_webhook(body: WebhookBody) -> tuple[WebhookCreatedOut, int]:
    caller = context.caller_of(router.current_event)
    settings = get_settings()
    url = targets.check_registration(
        body.url, settings.webhook_allow_private_targets, settings.webhook_timeout_seconds
    )
    types = tuple(t.value for t in body.event_types or ())
    endpoint, secret = repository().create(caller.user_id, url, types)
    out = WebhookOut.of(endpoint)
    return WebhookCreatedOut(**out.model_dump(), secret=secret.get_secret_value()), 201


@router.get("/webhooks", summary="The caller's webhook endpoints (never their secrets)")
def list_webhooks() -> WebhookList:
    caller = context.caller_of(router.current_event)
    return WebhookList(items=[WebhookOut.of(e) for e in repository().list_for_user(caller.user_id)])


@router.get(
    "/webhooks/<webhook_id>/deliveries", summary="The endpoint's latest delivery attempts, newest first"
)
def list_deliveries(webhook_id: str) -> DeliveryList:
    caller = context.caller_of(router.current_event)
    endpoint = repository().get(caller.user_id, webhook_id)
    if endpoint is None:
        raise WebhookNotFound()
    return DeliveryList(items=[DeliveryOut.of(d) for d in repository().deliveries(endpoint.endpoint_id)])


@router.post(
    "/webhooks/<webhook_id>/test",
    summary="Send the endpoint a signed webhook.test event now; answers that delivery",
)
def test_webhook(webhook_id: str) -> DeliveryOut:
    caller = context.caller_of(router.current_event)
    settings = get_settings()
    # Our function calls the user's address: a few an hour, so it is nobody's request cannon.
    limits.RateLimiter(settings).hit(
        limits.Budget("webhook-test", TEST_EVENTS_PER_HOUR, 3600), caller.user_id
    )
    delivery = dispatch.send_test(
        repository(), dispatch.sender_from_settings(settings), caller.user_id, webhook_id
    )
    if delivery is None:
        raise WebhookNotFound()
    return DeliveryOut.of(delivery)


@router.delete(
    "/webhooks/<webhook_id>",
    summary="Delete an endpoint: nothing more is delivered to it",
    responses={204: {"description": "Deleted"}},
)
def delete_webhook(webhook_id: str) -> Response[None]:
    caller = context.caller_of(router.current_event)
    if not repository().delete(caller.user_id, webhook_id):
        raise WebhookNotFound()
    return Response(status_code=204)
