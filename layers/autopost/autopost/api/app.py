"""The HTTP API: one resolver, its routers, and the one map from errors to responses."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.shared.json_encoder import Encoder

from autopost.api import clips, connections, publications, telegram, webhooks
from autopost.domain.errors import (
    AutopostError,
    InvalidRequest,
    MalformedBody,
    PayloadTooLarge,
    RouteNotFound,
    StatusConflict,
    UnsupportedMediaType,
)
from autopost.infra.observability import logger
from autopost.infra.settings import get_settings
from autopost.storage.errors import ConditionFailed, ConnectionChanged

API_TITLE = "autopost"
API_VERSION = "1.0.0"

_FIELD_MESSAGES = {
    "missing": "Обязательное поле",
    "enum": "Недопустимое значение: допустимы {expected}",
    "string_too_short": "Поле не может быть пустым",
    "string_too_long": "Слишком длинное значение",
    "too_short": "Список не может быть пустым",
    "too_long": "Слишком много элементов",
    "timezone_aware": "Укажите время с часовым поясом (ISO 8601)",
    "datetime_from_date_parsing": "Ожидается дата и время в формате ISO 8601",
    "datetime_parsing": "Ожидается дата и время в формате ISO 8601",
    "datetime_type": "Ожидается дата и время в формате ISO 8601",
    "extra_forbidden": "Неизвестное поле",
    "string_type": "Ожидается строка",
    "list_type": "Ожидается список",
    "int_parsing": "Ожидается целое число",
    "greater_than_equal": "Слишком маленькое значение",
    "less_than_equal": "Слишком большое значение",
    "model_attributes_type": "Ожидается JSON-объект",
    "dict_type": "Ожидается JSON-объект",
    "control_characters": "Управляющие символы недопустимы",
    "ascii_credential": "Допустимы только латинские буквы, цифры и знаки ASCII",
    "duplicate_platforms": "Платформы не должны повторяться",
    "duplicate_event_types": "Типы событий не должны повторяться",
}


def _error_response(error: AutopostError) -> Response:
    wait = error.details.get("retryAfterSeconds")
    headers = {"Retry-After": str(wait)} if isinstance(wait, int) else None
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(error.to_body(), ensure_ascii=False),
        headers=headers,
    )


def _conflict_of(error: ConditionFailed) -> StatusConflict:
    """A write storage refused because the item moved on: the user acted on a stale page."""
    if isinstance(error, ConnectionChanged):
        return StatusConflict("Подключение изменилось, обновите страницу и повторите")
    return StatusConflict(details=error.details)


def _field_problem(problem: dict[str, Any]) -> dict[str, Any]:
    kind = problem.get("type", "")
    template = _FIELD_MESSAGES.get(kind, "Некорректное значение")
    if kind == "too_short" and not isinstance(problem.get("input"), list):
        template = "Слишком короткое значение"
    # pydantic lists the choices in English ("'vk', 'rutube' or 'dzen'").
    expected = str((problem.get("ctx") or {}).get("expected", "")).replace(" or ", ", ")
    location = [str(part) for part in problem.get("loc", ()) if part not in ("body",)]
    return {"field": ".".join(location), "type": kind, "message": template.format(expected=expected)}


def _body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return body.encode()


def _header(event: Mapping[str, Any], name: str) -> str:
    headers = event.get("headers") or {}
    return next((str(v).strip().lower() for k, v in headers.items() if k.lower() == name), "")


class AutopostResolver(APIGatewayHttpResolver):
    """Refuses an oversized body, or one that is not UTF-8 text, before anything parses it
    (API Gateway passes such a body base64-encoded; powertools would fail on it)."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        limit = get_settings().max_request_bytes
        body = _body(event)
        content_type = _header(event, "content-type")
        refusal: AutopostError | None = None
        if len(body) > limit:
            refusal = PayloadTooLarge(details={"maxBytes": limit})
        elif body and content_type and not content_type.startswith("application/json"):
            # A JSON API: a form or text body is not read as something else.
            refusal = UnsupportedMediaType(details={"contentType": content_type[:100]})
        else:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                refusal = MalformedBody()
        if refusal is not None:
            return {
                "statusCode": refusal.status,
                "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": json.dumps(refusal.to_body(), ensure_ascii=False),
                "isBase64Encoded": False,
            }
        return super().resolve(event, context)


# Every answer as the errors are: Cyrillic as it is, not \u-escaped.
_serialize = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False, cls=Encoder)


def build_app() -> APIGatewayHttpResolver:
    app = AutopostResolver(enable_validation=True, serializer=_serialize)
    app.include_router(clips.router)
    app.include_router(publications.router)
    app.include_router(connections.router)
    app.include_router(telegram.router)
    app.include_router(webhooks.router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi():
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=app.get_openapi_json_schema(title=API_TITLE, version=API_VERSION),
        )

    @app.exception_handler(AutopostError)
    def handle_domain_error(error: AutopostError) -> Response:
        if error.status >= 500:
            logger.exception("request failed", extra={"code": error.code})
        return _error_response(error)

    @app.exception_handler(ConditionFailed)
    def handle_condition_failed(error: ConditionFailed) -> Response:
        return _error_response(_conflict_of(error))

    @app.exception_handler(RequestValidationError)
    def handle_validation_error(error: RequestValidationError) -> Response:
        problems = error.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return _error_response(
                InvalidRequest("Тело запроса не является корректным JSON", code="MALFORMED_JSON")
            )
        return _error_response(InvalidRequest(details={"fields": [_field_problem(p) for p in problems]}))

    @app.not_found
    def handle_not_found(_: NotFoundError) -> Response:
        return _error_response(RouteNotFound())

    @app.exception_handler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return _error_response(AutopostError())

    return app
