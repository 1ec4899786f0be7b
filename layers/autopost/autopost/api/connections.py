"""/platforms, /connections and /oauth: connecting accounts and disconnecting them."""

from __future__ import annotations

import html
import json
from typing import Annotated
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from autopost.api import context
from autopost.api.schemas import (
    AuthorizeOut,
    ConnectionList,
    ConnectionOut,
    DisconnectOut,
    LimitOut,
    PlatformList,
    PlatformOut,
    RutubeConnectBody,
    TelegramConnectBody,
)
from autopost.errors import AutopostError
from autopost.platforms import Platform
from autopost.settings import get_settings

router = Router()


@router.get("/platforms", summary="Every platform: limits, plan, connection")
def list_platforms() -> PlatformList:
    caller = context.caller_of(router.current_event)
    items = [
        PlatformOut(
            platform=info.platform,
            name=info.platform.display_name,
            allowed_by_plan=info.allowed,
            connected=info.connection is not None,
            connection=ConnectionOut.of(info.connection) if info.connection else None,
            connect_method=info.connect_method,
            stats_available=info.stats_available,
            limits=LimitOut(
                max_bytes=info.limit.max_bytes,
                max_duration_seconds=info.limit.max_duration_seconds,
                verified=info.limit.verified,
            ),
        )
        for info in context.connecting().platforms(caller)
    ]
    return PlatformList(items=items)


@router.get("/connections", summary="The caller's connections (never a token)")
def list_connections() -> ConnectionList:
    caller = context.caller_of(router.current_event)
    return ConnectionList(items=[ConnectionOut.of(c) for c in context.connecting().connections(caller)])


@router.post(
    "/connections/<platform>/authorize", summary="Start OAuth (VK, Дзен): the URL to send the user to"
)
def authorize(platform: Platform) -> AuthorizeOut:
    caller = context.caller_of(router.current_event)
    return AuthorizeOut(authorize_url=context.connecting().authorize_url(caller, platform))


@router.get("/oauth/<platform>/callback", summary="Where the platform sends the user back after OAuth")
def oauth_callback(
    platform: Platform,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=256)] = None,
    device_id: Annotated[str | None, Query(max_length=256)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
):  # a redirect or an error page, not a model
    console = get_settings().console_url
    try:
        connection = context.connecting().finish_oauth(
            platform,
            state=state,
            code=code,
            device_id=device_id,
            error=error,
            user_id=context.claimed_user(router.current_event),
        )
    except AutopostError as failure:
        return _callback_failure(failure, console)
    separator = "&" if "?" in console else "?"
    location = f"{console}{separator}{urlencode({'connected': connection.platform.value})}"
    return Response(status_code=302, headers={"Location": location}, body="")


@router.post(
    "/connections/telegram", summary="Connect a Telegram channel (checked with getMe/getChat/getChatMember)"
)
def connect_telegram(body: TelegramConnectBody) -> tuple[ConnectionOut, int]:
    caller = context.caller_of(router.current_event)
    connection = context.connecting().connect_telegram(caller, body.channel, body.bot_token)
    return ConnectionOut.of(connection), 201


@router.post("/connections/rutube", summary="Connect Rutube with an API token (checked by a real call)")
def connect_rutube(body: RutubeConnectBody) -> tuple[ConnectionOut, int]:
    caller = context.caller_of(router.current_event)
    return ConnectionOut.of(context.connecting().connect_rutube(caller, body.token)), 201


@router.delete("/connections/<platform>", summary="Disconnect: delete tokens, cancel scheduled publications")
def disconnect(platform: Platform) -> DisconnectOut:
    caller = context.caller_of(router.current_event)
    cancelled = context.connecting().disconnect(caller, platform)
    return DisconnectOut(platform=platform, cancelled_publications=cancelled)


def _callback_failure(failure: AutopostError, console: str) -> Response:
    """A browser lands here: a page in words, with the way back; machines get the JSON."""
    accept = router.current_event.headers.get("accept", "")
    if "text/html" not in accept:
        return Response(
            status_code=failure.status,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps(failure.to_body(), ensure_ascii=False),
        )
    page = (
        '<!doctype html><html lang="ru"><meta charset="utf-8"><title>Подключение не удалось</title>'
        f"<body><h1>Подключение не удалось</h1><p>{html.escape(failure.message)}</p>"
        f'<p><a href="{html.escape(console)}">Вернуться в консоль</a></p></body></html>'
    )
    return Response(status_code=failure.status, content_type="text/html; charset=utf-8", body=page)
