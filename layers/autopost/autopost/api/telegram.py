"""/telegram/webhook: the service bot's updates, from Telegram (no user token: Telegram's
secret token header, set with the webhook, is the only way in)."""

from __future__ import annotations

import hmac
import json
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from autopost.api import context
from autopost.domain.errors import Unauthorized
from autopost.infra.settings import get_settings

router = Router()
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)


@router.post("/telegram/webhook", summary="Telegram's updates for the service's bot (channel posts)")
def telegram_webhook() -> dict[str, Any]:
    event = router.current_event
    given = event.headers.get(SECRET_HEADER, "")
    expected = context.secrets_module.telegram_webhook_secret(get_settings()).get_secret_value()
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized()
    try:
        update = json.loads(event.decoded_body or "{}")
    except ValueError:
        update = {}
    # Whatever the post was, Telegram gets a 200: a refusal would only make it send again.
    context.connecting().telegram_update(update if isinstance(update, dict) else {})
    return {}
