"""Every error a user can meet: a machine code, an HTTP status and a Russian message.

The API maps any `AutopostError` to `{"error": {"code", "message", "details"}}` in one place
(autopost.api.app); domain code raises these `from` their cause.
"""

from __future__ import annotations

from typing import Any, ClassVar

from autopost.domain.clock import to_iso


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


class MalformedBody(AutopostError):
    code = "MALFORMED_BODY"
    status = 400
    default_message = "Тело запроса должно быть текстом в кодировке UTF-8"


class UnsupportedMediaType(AutopostError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    default_message = "Тело запроса должно быть JSON: укажите заголовок Content-Type: application/json"


class InvalidCursor(AutopostError):
    code = "INVALID_CURSOR"
    status = 400
    default_message = "Некорректный курсор страницы"


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


class ChannelTaken(Conflict):
    code = "CHANNEL_TAKEN"
    default_message = "Этот канал уже подключён другим пользователем"


class AlreadyPublished(Conflict):
    """The clip is already published on these platforms: publishing again is a repost, which
    the request must ask for (`repost: true`)."""

    code = "ALREADY_PUBLISHED"

    def __init__(self, publications: list[Any]) -> None:
        names = [p.platform.display_name for p in publications]
        where = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} и {names[-1]}"
        details = {
            "publications": [
                {
                    "id": p.publication_id,
                    "platform": p.platform.value,
                    "status": p.status.value,
                    "post": {"id": p.post_id, "url": p.post_url} if p.post_id else None,
                    "publishedAt": to_iso(p.published_at) if p.published_at else None,
                }
                for p in publications
            ]
        }
        super().__init__(f"Клип уже опубликован в {where}", details)


class StatusConflict(Conflict):
    """A conditional status write found another status than the one it expected."""

    code = "STATUS_CONFLICT"
    default_message = "Действие недоступно для публикации в текущем статусе"


class InvalidTransition(Conflict):
    """The transition is not in the allowed table at all; raised before touching storage."""

    code = "INVALID_TRANSITION"
    default_message = "Недопустимая смена статуса публикации"


class IdempotencyKeyReused(InvalidRequest):
    code = "IDEMPOTENCY_KEY_REUSED"
    default_message = "Этот ключ идемпотентности уже использован с другим запросом"


class IdempotentRequestInProgress(Conflict):
    code = "IDEMPOTENT_REQUEST_IN_PROGRESS"
    default_message = "Запрос с этим ключом ещё выполняется, повторите через секунду"


class TooManyRequests(AutopostError):
    code = "RATE_LIMITED"
    status = 429
    default_message = "Слишком много запросов, попробуйте позже"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = retry_after
        # The exact wait, where the caller can sleep for a fraction of a second.
        self.wait_seconds = float(retry_after)
        super().__init__(message, {"retryAfterSeconds": retry_after})


class OrchestrationUnavailable(AutopostError):
    code = "ORCHESTRATION_UNAVAILABLE"
    status = 503
    default_message = "Сервис публикации временно недоступен, повторите попытку позже"


# -- what a platform answered, in one small set (providers map their own forms onto it) ------


class PlatformError(Exception):
    """A platform call failed. `message` is for the user (Russian); never includes tokens."""

    task_error = "PlatformUnavailable"
    default_message = "Платформа недоступна, попробуйте позже"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.default_message
        # A machine code of its own where the user must act differently (VK_NO_VIDEO_RIGHTS).
        self.code = code
        super().__init__(self.message)


# A VK session VK no longer accepts: the connection, and every publication through it.
VK_SESSION_EXPIRED = "Сессия VK истекла, подключите VK заново"


class TokenExpired(PlatformError):
    task_error = "TokenExpired"
    default_message = "Токен истёк, переподключите платформу"


class PlatformRateLimited(PlatformError):
    task_error = "RateLimited"
    default_message = "Платформа ограничила частоту запросов"

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        self.retry_after = max(1.0, float(retry_after))
        super().__init__(message)


class PlatformUnavailable(PlatformError):
    task_error = "PlatformUnavailable"


class Rejected(PlatformError):
    """The platform refused this content or request for good: retrying will not help."""

    task_error = "Rejected"
    default_message = "Платформа отклонила публикацию"


class UploadIncomplete(PlatformError):
    """A resumable upload ran out of time in this attempt; its checkpoint says where it is."""

    task_error = "UploadIncomplete"
    default_message = "Загрузка продолжится в следующей попытке"

    def __init__(self, checkpoint: dict[str, Any]) -> None:
        self.checkpoint = checkpoint
        super().__init__()


class StatsUnavailable(PlatformError):
    default_message = "Статистика недоступна"


class UnknownPlatform(InvalidRequest):
    code = "UNKNOWN_PLATFORM"
    default_message = "Неизвестная платформа"


class PlatformNotConnected(AutopostError):
    code = "PLATFORM_NOT_CONNECTED"
    status = 404
    default_message = "Платформа не подключена"


class OAuthStateInvalid(AutopostError):
    code = "OAUTH_STATE_INVALID"
    status = 400
    default_message = "Ссылка подключения недействительна или устарела, начните подключение заново"


class OAuthNotSupported(InvalidRequest):
    code = "OAUTH_NOT_SUPPORTED"
    default_message = "Эта платформа подключается без OAuth"


class ConnectionCheckFailed(AutopostError):
    code = "CONNECTION_CHECK_FAILED"
    status = 422
    default_message = "Не удалось проверить подключение"


class CredentialRefused(ConnectionCheckFailed):
    """The platform refused the token, session or password itself: what someone trying
    other people's credentials meets, so it alone costs a strict connect attempt."""


class PlatformTemporarilyUnavailable(AutopostError):
    code = "PLATFORM_UNAVAILABLE"
    status = 503
    default_message = "Платформа недоступна, попробуйте позже"


class EventsNotDelivered(AutopostError):
    """EventBridge refused some of a change's events: the stream gives the change again."""

    code = "EVENTS_NOT_DELIVERED"
    default_message = "События публикации не доставлены"


class WebhookNotFound(NotFound):
    code = "WEBHOOK_NOT_FOUND"
    default_message = "Вебхук не найден"


class WebhookLimitReached(Conflict):
    code = "WEBHOOK_LIMIT"
    default_message = "Можно зарегистрировать не больше 5 вебхуков: удалите ненужный"


class WebhookUrlInvalid(InvalidRequest):
    """The address is not https, or points inside a network (loopback, private, link-local)."""

    code = "WEBHOOK_URL_INVALID"
    default_message = "Адрес вебхука должен быть публичным адресом https://"
