import hashlib
from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr

from autopost.domain.errors import (
    PlatformRateLimited,
    PlatformUnavailable,
    Rejected,
    StatsUnavailable,
    TokenExpired,
)
from autopost.domain.models import Credentials
from autopost.infra.settings import Settings
from autopost.providers.base import PostDraft
from autopost.providers.telegram import TelegramProvider
from tests.support.platforms import bytes_clip
from tests.support.reference import telegram_method_fields

MB = 1024 * 1024


@pytest.fixture
def channel(platforms):
    bot = platforms.telegram.add_bot()
    chat_id = platforms.telegram.add_channel("clips_channel", "Клипы", admin_bots=(bot,))
    return bot, chat_id


def creds(bot, channel="@clips_channel"):
    return Credentials(SecretStr(bot), extra={"channel": channel})


def test_check_confirms_the_bot_may_post_and_names_the_channel(settings, channel):
    bot, chat_id = channel
    account = TelegramProvider(settings).check(creds(bot))
    assert account.account_id == str(chat_id)
    assert account.name == "Клипы"
    assert account.extra == {
        "chat_id": str(chat_id),
        "channel": "@clips_channel",
        "username": "clips_channel",
    }


def test_a_bot_that_is_not_an_admin_is_refused(settings, platforms):
    bot = platforms.telegram.add_bot()
    platforms.telegram.add_channel("other_channel")
    with pytest.raises(Rejected, match="администратором"):
        TelegramProvider(settings).check(creds(bot, "@other_channel"))


def test_an_admin_without_the_right_to_post_is_refused(settings, platforms):
    bot = platforms.telegram.add_bot()
    platforms.telegram.add_channel("readonly_channel", admin_bots=(bot,), can_post=False)
    with pytest.raises(Rejected) as caught:
        TelegramProvider(settings).check(creds(bot, "@readonly_channel"))
    assert caught.value.code == "TELEGRAM_NO_POST_RIGHTS"


def test_an_admin_that_lost_the_right_to_post_gets_the_rights_message_not_a_bare_400(settings, platforms):
    """Telegram answers 400 "need administrator rights in the channel chat" (teloxide#450)."""
    bot = platforms.telegram.add_bot()
    chat_id = platforms.telegram.add_channel("revoked_channel", admin_bots=(bot,), can_post=False)
    with pytest.raises(Rejected) as caught:
        TelegramProvider(settings).publish(
            Credentials(SecretStr(bot), extra={"chat_id": str(chat_id)}),
            bytes_clip(b"\x00" * 1000),
            PostDraft("t"),
            None,
            lambda _: None,
        )
    assert caught.value.code == "TELEGRAM_NO_POST_RIGHTS"
    assert "администратором с правом публикации" in caught.value.message
    assert platforms.telegram.messages == []


def test_an_unknown_channel_is_refused(settings, channel):
    bot, _ = channel
    with pytest.raises(Rejected, match="не найден"):
        TelegramProvider(settings).check(creds(bot, "@no_such_channel"))


def test_an_invalid_bot_token_is_token_expired(settings, channel):
    with pytest.raises(TokenExpired, match="Токен бота"):
        TelegramProvider(settings).check(creds("123456:" + "x" * 35))


def test_send_video_posts_once_with_caption_and_link(settings, platforms, channel):
    bot, chat_id = channel
    provider = TelegramProvider(settings)
    account = provider.check(creds(bot))
    data = b"\x00\x01" * 300_000
    result = provider.publish(
        Credentials(SecretStr(bot), extra=account.extra),
        bytes_clip(data),
        PostDraft("Заголовок", "Описание"),
        None,
        lambda _: None,
    )
    (message,) = platforms.telegram.messages
    assert message["bytes"] == len(data)
    assert message["sha256"] == hashlib.sha256(data).hexdigest()
    assert message["caption"] == "Заголовок\n\nОписание"
    assert result.post_id == f"{chat_id}:{message['message_id']}"
    assert result.url == f"https://t.me/clips_channel/{message['message_id']}"


def test_send_video_says_the_clips_shape_so_a_vertical_clip_shows_vertical(settings, platforms, channel):
    bot, _ = channel
    provider = TelegramProvider(settings)
    account = provider.check(creds(bot))
    clip = replace(bytes_clip(b"v" * 1000), width=720, height=1280, duration_seconds=14.6)
    provider.publish(
        Credentials(SecretStr(bot), extra=account.extra), clip, PostDraft("t"), None, lambda _: None
    )
    (message,) = platforms.telegram.messages
    assert (message["fields"]["width"], message["fields"]["height"], message["fields"]["duration"]) == (
        "720",
        "1280",
        "15",
    )
    # Every field sent is one the Bot API documents for sendVideo.
    assert set(message["fields"]) <= telegram_method_fields("sendVideo")


def test_a_private_channel_links_through_its_internal_id(settings, platforms):
    bot = platforms.telegram.add_bot()
    chat_id = platforms.telegram.add_channel(None, admin_bots=(bot,))
    provider = TelegramProvider(settings)
    result = provider.publish(
        Credentials(SecretStr(bot), extra={"chat_id": str(chat_id)}),
        bytes_clip(b"v"),
        PostDraft("t"),
        None,
        lambda _: None,
    )
    assert result.url.startswith(f"https://t.me/c/{str(chat_id).removeprefix('-100')}/")


def test_429_carries_telegrams_retry_after(settings, platforms, channel):
    bot, chat_id = channel
    platforms.telegram.inject("sendVideo", "rate_limit", retry_after=17)
    with pytest.raises(PlatformRateLimited) as caught:
        TelegramProvider(settings).publish(
            Credentials(SecretStr(bot), extra={"chat_id": str(chat_id)}),
            bytes_clip(b"v"),
            PostDraft("t"),
            None,
            lambda _: None,
        )
    assert caught.value.retry_after == 17


def test_twenty_messages_a_minute_per_channel(settings, platforms, channel):
    bot, chat_id = channel
    provider = TelegramProvider(settings)
    credentials = Credentials(SecretStr(bot), extra={"chat_id": str(chat_id)})
    for _ in range(20):
        provider.publish(credentials, bytes_clip(b"v"), PostDraft("t"), None, lambda _: None)
    with pytest.raises(PlatformRateLimited) as caught:
        provider.publish(credentials, bytes_clip(b"v"), PostDraft("t"), None, lambda _: None)
    assert 1 <= caught.value.retry_after <= 61


EMOJI = "\U0001f305"  # two UTF-16 code units


def test_a_caption_of_emoji_past_1024_utf16_units_is_shortened_and_posted(settings, platforms, channel):
    bot, chat_id = channel
    title, description = "Закат " + EMOJI * 300, ("и море " + EMOJI * 10 + " ") * 40
    TelegramProvider(settings).publish(
        Credentials(SecretStr(bot), extra={"chat_id": str(chat_id)}),
        bytes_clip(b"\x00" * 1000),
        PostDraft(title, description),
        None,
        lambda _: None,
    )
    (message,) = platforms.telegram.messages
    caption = message["caption"]
    assert len(caption) < len(caption.encode("utf-16-le")) // 2  # emoji: fewer characters than units
    assert len(caption.encode("utf-16-le")) // 2 <= 1024
    assert caption.endswith("…") and caption.startswith("Закат " + EMOJI)


def test_telegram_refuses_a_caption_over_1024_utf16_units_in_its_words(settings, platforms, channel):
    bot, chat_id = channel
    fields = {"chat_id": str(chat_id), "caption": EMOJI * 513}  # 513 characters, 1,026 units
    answer = httpx.post(
        f"{platforms.telegram.base_url}/bot{bot}/sendVideo",
        data=fields,
        files={"video": ("c.mp4", b"\x00" * 100, "video/mp4")},
    )
    assert answer.status_code == 400
    assert answer.json()["description"] == "Bad Request: message caption is too long"


def test_a_local_server_without_local_answers_413_at_50_mb_and_we_say_so(
    settings, platforms, channel, monkeypatch
):
    """TELEGRAM_LOCAL_BOT_API says the server runs with --local; one that does not still
    answers 413 at 50 MB (tdlib/telegram-bot-api#720): the message says what happened."""
    monkeypatch.setenv("TELEGRAM_LOCAL_BOT_API", "true")
    bot, chat_id = channel
    with pytest.raises(Rejected) as caught:
        TelegramProvider(Settings.from_environment()).publish(
            Credentials(SecretStr(bot), extra={"chat_id": str(chat_id)}),
            bytes_clip(b"\x00" * (50 * MB + 1)),
            PostDraft("t"),
            None,
            lambda _: None,
        )
    assert "без --local" in caught.value.message


def test_over_50_mb_is_refused_in_the_seeds_words(settings, platforms, channel):
    bot, chat_id = channel
    with pytest.raises(Rejected) as caught:
        TelegramProvider(settings).publish(
            Credentials(SecretStr(bot), extra={"chat_id": str(chat_id)}),
            bytes_clip(b"\x00" * (50 * MB + 1)),
            PostDraft("t"),
            None,
            lambda _: None,
        )
    assert caught.value.message == "Файл слишком большой для Telegram (максимум 50 МБ)"


@pytest.mark.parametrize(
    ("kind", "error"), [("http_500", PlatformUnavailable), ("token_expired", TokenExpired)]
)
def test_failures_map_onto_the_platform_error_set(settings, platforms, channel, kind, error):
    bot, chat_id = channel
    platforms.telegram.inject("sendVideo", kind)
    with pytest.raises(error):
        TelegramProvider(settings).publish(
            Credentials(SecretStr(bot), extra={"chat_id": str(chat_id)}),
            bytes_clip(b"v"),
            PostDraft("t"),
            None,
            lambda _: None,
        )


def test_no_stats_and_no_refresh(settings, channel):
    bot, _ = channel
    provider = TelegramProvider(settings)
    with pytest.raises(StatsUnavailable) as caught:
        provider.fetch_stats(creds(bot), ["1:1"])
    assert caught.value.message == "Статистика недоступна"
    with pytest.raises(TokenExpired):
        provider.refresh(creds(bot))
