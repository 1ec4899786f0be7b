"""/platforms and /connections: connecting accounts, where VK posts go, disconnecting."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from autopost.api import context
from autopost.api.schemas.connections import (
    AuthorizeBody,
    AuthorizeOut,
    ConnectAttemptsOut,
    ConnectionList,
    ConnectionOut,
    ConnectMethodOut,
    DestinationBody,
    DestinationOut,
    DestinationsOut,
    DisconnectOut,
    DzenConnectBody,
    LimitOut,
    OAuthCompleteBody,
    PlatformList,
    PlatformOut,
    RutubeConnectBody,
    TelegramConnectBody,
    TelegramProofBody,
    TelegramProofOut,
    VkSessionConnectBody,
)
from autopost.domain.models import OAuthReturn
from autopost.domain.platforms import Platform

router = Router()


@router.get("/platforms", summary="Every platform: limits, plan, connection")
def list_platforms() -> PlatformList:
    caller = context.caller_of(router.current_event)
    items = [
        PlatformOut(
            platform=info.platform,
            name=info.platform.display_name,
            allowed_by_plan=info.allowed,
            plans=list(info.plans),
            connected=info.connection is not None,
            connection=ConnectionOut.of(info.connection) if info.connection else None,
            connect_method=info.connect_method,
            connect_methods=[
                ConnectMethodOut(method=m.method, official=m.official, notice=m.notice) for m in info.methods
            ],
            stats_available=info.stats_available,
            limits=LimitOut(
                max_bytes=info.limit.max_bytes,
                max_duration_seconds=info.limit.max_duration_seconds,
                verified=info.limit.verified,
            ),
            notice=info.notice,
        )
        for info in context.connecting().platforms(caller)
    ]
    left, limit = context.connecting().attempts_left(caller)
    return PlatformList(items=items, connect_attempts=ConnectAttemptsOut(left=left, limit=limit))


@router.get("/connections", summary="The caller's connections (never a token)")
def list_connections() -> ConnectionList:
    caller = context.caller_of(router.current_event)
    return ConnectionList(items=[ConnectionOut.of(c) for c in context.connecting().connections(caller)])


@router.post("/connections/<platform>/authorize", summary="Start OAuth (VK): the URL to send the user to")
def authorize(platform: Platform, body: AuthorizeBody | None = None) -> AuthorizeOut:
    caller = context.caller_of(router.current_event)
    started = context.connecting().authorize(caller, platform, body.redirect_uri if body else None)
    return AuthorizeOut(authorize_url=started.url, state=started.state)


@router.post(
    "/connections/<platform>/complete",
    summary="Finish OAuth: the console hands back what the platform's redirect carried",
)
def complete(platform: Platform, body: OAuthCompleteBody) -> tuple[ConnectionOut, int]:
    caller = context.caller_of(router.current_event)
    returned = OAuthReturn(
        state=body.state,
        code=body.code,
        device_id=body.device_id,
        access_token=body.access_token,
        expires_in=body.expires_in,
        error=body.error,
    )
    return ConnectionOut.of(context.connecting().complete_oauth(caller, platform, returned)), 201


@router.get("/connections/vk/destinations", summary="Communities VK clips can go to")
def vk_destinations() -> DestinationsOut:
    caller = context.caller_of(router.current_event)
    service = context.connecting()
    current = ConnectionOut.of(service.connection(caller, Platform.VK)).destination
    items = [DestinationOut(community_id=i, name=n) for i, n in service.vk_destinations(caller)]
    return DestinationsOut(items=items, current=current)


@router.put("/connections/vk/destination", summary="Post to a community, or (null) to your own page")
def set_vk_destination(body: DestinationBody) -> ConnectionOut:
    caller = context.caller_of(router.current_event)
    return ConnectionOut.of(context.connecting().set_vk_destination(caller, body.community_id))


@router.post(
    "/connections/vk/session",
    summary="Connect VK with the signed-in VK session: real clips (unofficial, may break)",
)
def connect_vk_session(body: VkSessionConnectBody) -> tuple[ConnectionOut, int]:
    caller = context.caller_of(router.current_event)
    return ConnectionOut.of(context.connecting().connect_vk_session(caller, body.session)), 201


@router.post(
    "/connections/telegram",
    summary="Connect a Telegram channel with your own bot (checked with getMe/getChat/getChatMember)",
)
def connect_telegram(body: TelegramConnectBody) -> tuple[ConnectionOut, int]:
    caller = context.caller_of(router.current_event)
    connection = context.connecting().connect_telegram(caller, body.channel, body.bot_token)
    return ConnectionOut.of(connection), 201


@router.post(
    "/connections/telegram/proof",
    summary="Connect a channel through the service's bot: a code to post in it, proving you run it",
)
def telegram_proof(body: TelegramProofBody) -> tuple[TelegramProofOut, int]:
    caller = context.caller_of(router.current_event)
    proof = context.connecting().telegram_proof(caller, body.channel)
    instructions = (
        f"Опубликуйте в канале {body.channel} сообщение с кодом {proof.code}. Бот сервиса увидит его, "
        "подключит канал к вашему аккаунту и удалит сообщение. Код действует 15 минут."
    )
    return TelegramProofOut(code=proof.code, expires_at=proof.expires_at, instructions=instructions), 202


@router.post(
    "/connections/rutube", summary="Connect Rutube with an API token, or a login and password (not stored)"
)
def connect_rutube(body: RutubeConnectBody) -> tuple[ConnectionOut, int]:
    caller = context.caller_of(router.current_event)
    connection = context.connecting().connect_rutube(
        caller, token=body.token, login=body.login, password=body.password
    )
    return ConnectionOut.of(connection), 201


@router.post("/connections/dzen", summary="Connect Дзен with the studio's session (unofficial, may break)")
def connect_dzen(body: DzenConnectBody) -> tuple[ConnectionOut, int]:
    caller = context.caller_of(router.current_event)
    return ConnectionOut.of(context.connecting().connect_dzen(caller, body.session, body.publisher_id)), 201


@router.delete("/connections/<platform>", summary="Disconnect: delete tokens, cancel scheduled publications")
def disconnect(platform: Platform) -> DisconnectOut:
    caller = context.caller_of(router.current_event)
    cancelled = context.connecting().disconnect(caller, platform)
    return DisconnectOut(platform=platform, cancelled_publications=cancelled)
