"""VK's answer envelope and its errors in the user's terms: one mapping for every VK call,
whichever token (OAuth or the web session's) made it.

Errors come as HTTP 200 `{"error": {"error_code", "error_subcode"?, "error_msg"}}`.
"""

from __future__ import annotations

from typing import Any

import httpx

from autopost.domain.errors import (
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
    Rejected,
    TokenExpired,
)
from autopost.providers.http import json_of

NAME = "VK"
_RATE_LIMIT_WAIT = {6: 1.0, 9: 60.0, 29: 3600.0}  # too many per second, flood control, daily limit
ANOTHER_ADDRESS = 1130  # error 5's subcode: the token is bound to the address that got it
NO_SCOPE = 1133  # error 15's subcode: the token lacks the method's scope
PROFILE_TYPE = 1051  # "Method is not available for this profile type" (VK ID tokens)

NO_VIDEO_RIGHTS = (
    "У подключения VK нет права на видео: VK выдаёт его приложениям, подключённым через VK ID, "
    "только по отдельной заявке. Подключите VK через сессию VK (неофициально) или попросите "
    "администратора сервиса получить права на видео для приложения"
)
BOUND_TO_ADDRESS = (
    "VK принимает этот токен только с адреса, где вы его получили, а публикует сервис с "
    "других адресов. Подключите VK через сессию VK или через VK ID"
)


class VkApiError(PlatformError):
    """An error object VK answered; mapped onto the common set by `platform_error`."""

    def __init__(self, code: int, message: str, subcode: int | None = None) -> None:
        self.vk_code = code
        self.subcode = subcode
        self.vk_message = message
        super().__init__(f"VK: ошибка {code}")


def vk_answer(response: httpx.Response) -> Any:
    """The method's `response`, or VkApiError."""
    if response.status_code >= 500:
        raise PlatformUnavailable("VK временно недоступен")
    payload = json_of(response, NAME)
    if not isinstance(payload, dict):
        raise PlatformUnavailable("VK ответил непонятно, попробуйте позже")
    if "error" in payload:
        error = payload["error"] if isinstance(payload["error"], dict) else {}
        subcode = error.get("error_subcode")
        raise VkApiError(
            int(error.get("error_code", 0)),
            str(error.get("error_msg", "")),
            int(subcode) if isinstance(subcode, int) else None,
        )
    return payload["response"]


def platform_error(error: VkApiError) -> PlatformError:
    code = error.vk_code
    if code == 5 and (error.subcode == ANOTHER_ADDRESS or "another ip" in error.vk_message):
        return TokenExpired(BOUND_TO_ADDRESS, code="VK_TOKEN_BOUND_TO_ADDRESS")
    if code == 5:
        return TokenExpired()
    if code in _RATE_LIMIT_WAIT:
        return PlatformRateLimited(_RATE_LIMIT_WAIT[code], "VK ограничил частоту запросов")
    if code in (1, 10, 22):
        return PlatformUnavailable("VK временно недоступен")
    if code == 14:
        return Rejected("VK запросил капчу: опубликуйте клип позже или вручную")
    if (code == 15 and (error.subcode == NO_SCOPE or "current scopes" in error.vk_message)) or (
        code == PROFILE_TYPE
    ):
        return Rejected(NO_VIDEO_RIGHTS, code="VK_NO_VIDEO_RIGHTS")
    if code in (15, 200, 201, 203, 204):
        return Rejected("VK запретил публикацию: нет прав на загрузку видео в это сообщество или профиль")
    if code == 260:
        return Rejected("VK не показывает список сообществ: он скрыт настройками приватности")
    return Rejected(f"VK отклонил публикацию (код ошибки {code})")
