"""The emulators answer in the platforms' documented shapes (tests/reference)."""

import httpx
import pytest

from tests.support.reference import (
    telegram_method_returns,
    telegram_problems,
    vk_error_codes,
    vk_problems,
)


@pytest.fixture
def vk(platforms):
    access, _ = platforms.vk.issue_token()
    return platforms.vk, access


def vk_call(emulator, method, **params):
    return httpx.post(f"{emulator.base_url}/method/{method}", data={**params, "v": "5.199"}).json()


def test_vk_video_save_answers_a_video_save_response(vk):
    emulator, token = vk
    answer = vk_call(emulator, "video.save", access_token=token, name="t", is_short="1")
    assert vk_problems(answer, "video/responses.json", "video_save_response") == []
    assert set(answer["response"]) >= {"upload_url", "video_id", "owner_id"}


def test_vk_video_get_answers_a_video_get_response(vk):
    emulator, token = vk
    ids = emulator.add_videos(1001, 3, views=5, likes=2, reposts=1, comments=4)
    answer = vk_call(emulator, "video.get", access_token=token, videos=",".join(ids), count="3")
    assert vk_problems(answer, "video/responses.json", "video_get_response") == []
    assert answer["response"]["count"] == 3


def test_vk_a_video_still_processing_or_refused_is_a_video_get_response(vk):
    emulator, token = vk
    emulator.inject("processing", "restricted", message="Причина")
    saved = vk_call(emulator, "video.save", access_token=token, name="t")["response"]
    httpx.post(saved["upload_url"], files={"video_file": ("c.mp4", b"\x00" * 100, "video/mp4")})
    answer = vk_call(
        emulator, "video.get", access_token=token, videos=f"{saved['owner_id']}_{saved['video_id']}"
    )
    (item,) = answer["response"]["items"]
    assert (item["processing"], item["content_restricted"], item["type"]) == (1, 1, "video")
    assert vk_problems(answer, "video/responses.json", "video_get_response") == []


def test_vk_users_get_answers_a_users_get_response(vk):
    emulator, token = vk
    answer = vk_call(emulator, "users.get", access_token=token)
    assert vk_problems(answer, "users/responses.json", "users_get_response") == []


def test_vk_groups_get_extended_answers_its_schema(vk):
    emulator, token = vk
    answer = vk_call(emulator, "groups.get", access_token=token, filter="editor", extended="1")
    assert answer["response"]["count"] == 1
    assert vk_problems(answer, "groups/responses.json", "groups_get_object_extended_response") == []


def test_vk_a_broken_answer_would_be_caught():
    """The validator itself can fail: a count of the wrong type is reported."""
    assert vk_problems(
        {"response": {"count": "three", "items": []}}, "video/responses.json", "video_get_response"
    )


@pytest.mark.parametrize("kind", ["token_expired", "rate_limit", "flood", "internal"])
def test_vk_errors_are_base_errors_with_documented_codes(vk, kind):
    emulator, token = vk
    emulator.inject("video.get", kind)
    answer = vk_call(emulator, "video.get", access_token=token, videos="1_1")
    assert set(answer) == {"error"}
    assert vk_problems(answer["error"], "base/objects.json", "base_error") == []
    assert answer["error"]["error_code"] in vk_error_codes()


def test_vk_an_unknown_token_is_error_5(vk):
    emulator, _ = vk
    assert vk_call(emulator, "video.get", access_token="bad")["error"]["error_code"] == 5


@pytest.fixture
def telegram(platforms):
    bot = platforms.telegram.add_bot()
    chat = platforms.telegram.add_channel("schema_channel", admin_bots=(bot,))
    return platforms.telegram, bot, chat


def tg(emulator, bot, method, **kwargs):
    return httpx.post(f"{emulator.base_url}/bot{bot}/{method}", **kwargs).json()


@pytest.mark.parametrize(
    ("method", "data"),
    [("getMe", {}), ("getChat", {"chat_id": "@schema_channel"})],
)
def test_telegram_answers_match_the_bot_api_types(telegram, method, data):
    emulator, bot, _ = telegram
    answer = tg(emulator, bot, method, data=data)
    assert answer["ok"] is True
    (returns,) = telegram_method_returns(method)
    assert telegram_problems(answer["result"], returns) == []


def test_telegram_chat_member_is_a_chat_member(telegram):
    emulator, bot, chat = telegram
    me = tg(emulator, bot, "getMe")["result"]
    for user_id in (me["id"], 42):
        answer = tg(emulator, bot, "getChatMember", data={"chat_id": chat, "user_id": user_id})
        assert telegram_problems(answer["result"], "ChatMember") == []


def test_telegram_send_video_answers_a_message(telegram):
    emulator, bot, chat = telegram
    answer = tg(
        emulator,
        bot,
        "sendVideo",
        data={"chat_id": str(chat), "caption": "c"},
        files={"video": ("c.mp4", b"\x00" * 10, "video/mp4")},
    )
    assert telegram_problems(answer["result"], "Message") == []


def test_telegram_a_broken_answer_would_be_caught():
    assert telegram_problems({"id": "1", "is_bot": True, "unknown": 1}, "User")


@pytest.mark.parametrize(("kind", "code"), [("rate_limit", 429), ("token_expired", 401), ("http_500", 500)])
def test_telegram_failures_have_the_documented_envelope(telegram, kind, code):
    emulator, bot, _ = telegram
    emulator.inject("getMe", kind, retry_after=3)
    answer = tg(emulator, bot, "getMe")
    assert answer["ok"] is False
    assert answer["error_code"] == code
    assert isinstance(answer["description"], str)
    if code == 429:
        assert telegram_problems(answer["parameters"], "ResponseParameters") == []
        assert answer["parameters"]["retry_after"] == 3
