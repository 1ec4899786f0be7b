"""Every error a user can meet: a machine code, an HTTP status and a Russian message.

The API maps any `AutopostError` to `{"error": {"code", "message", "details"}}` in one place
(autopost.api.app); domain code raises these `from` their cause.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AutopostError(Exception):
    code: str = "INTERNAL_ERROR"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Внутренняя ошибка сервиса"

    def __init__(
        self,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        code: str | None = None,
    ) -> None:
        self.code = code or type(self).code
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class Unauthorized(AutopostError):
    code = "UNAUTHORIZED"
    status = 401
    default_message = "Требуется авторизация"


class NotFound(AutopostError):
    code = "NOT_FOUND"
    status = 404
    default_message = "Не найдено"


class RouteNotFound(NotFound):
    code = "ROUTE_NOT_FOUND"
    default_message = "Ресурс не найден"


class ClipNotFound(NotFound):
    code = "CLIP_NOT_FOUND"
    default_message = "Клип не найден"


class PublicationNotFound(NotFound):
    code = "PUBLICATION_NOT_FOUND"
    default_message = "Публикация не найдена"


class InvalidRequest(AutopostError):
    code = "VALIDATION_ERROR"
    status = 422
    default_message = "Некорректный запрос"


class InvalidSchedule(InvalidRequest):
    code = "INVALID_SCHEDULE"
    default_message = "Некорректное время публикации"


class ClipNotReady(AutopostError):
    code = "CLIP_NOT_READY"
    status = 422
    default_message = "Клип ещё не прошёл проверку"


class ClipInvalid(ClipNotReady):
    code = "CLIP_INVALID"
    default_message = "Клип не прошёл проверку"


class ClipFileMissing(ClipNotReady):
    code = "CLIP_FILE_MISSING"
    default_message = "Файл клипа не найден"


class PlatformChecksFailed(AutopostError):
    """One or more requested platforms cannot take this clip; details name each of them."""

    code = "PLATFORM_CHECKS_FAILED"
    status = 422
    default_message = "Публикация невозможна на некоторых платформах"


class PayloadTooLarge(AutopostError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413
    default_message = "Слишком большой запрос"


class Conflict(AutopostError):
    code = "CONFLICT"
    status = 409
    default_message = "Конфликт состояния"


class DuplicatePublication(Conflict):
    code = "DUPLICATE_PUBLICATION"
    default_message = "Этот клип уже публикуется или запланирован на этой платформе"


class StatusConflict(Conflict):
    """A conditional status write found another status than the one it expected."""

    code = "STATUS_CONFLICT"
    default_message = "Действие недоступно для публикации в текущем статусе"


class InvalidTransition(Conflict):
    """The transition is not in the allowed table at all; raised before touching storage."""

    code = "INVALID_TRANSITION"
    default_message = "Недопустимая смена статуса публикации"


class RateLimited(AutopostError):
    code = "RATE_LIMITED"
    status = 429
    default_message = "Слишком много запросов, попробуйте позже"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, {"retryAfterSeconds": retry_after})


class OrchestrationUnavailable(AutopostError):
    code = "ORCHESTRATION_UNAVAILABLE"
    status = 503
    default_message = "Сервис публикации временно недоступен, повторите попытку позже"
