import hashlib
import time

import pytest
from pydantic import SecretStr

from autopost.domain.errors import PlatformUnavailable, Rejected, TokenExpired, UploadIncomplete
from autopost.domain.models import Credentials
from autopost.providers.base import PostDraft, PostStats, Processing, Published
from autopost.providers.dzen import DzenProvider
from emulators.dzen import DEFAULT_PUBLISHER
from tests.support.platforms import bytes_clip

DATA = b"dzen-clip" * 2_000_000  # 18 MB: three tus chunks


@pytest.fixture
def dzen(settings, platforms):
    cookies = platforms.dzen.issue_session()
    credentials = Credentials(SecretStr(cookies), extra={"publisher_id": DEFAULT_PUBLISHER})
    return DzenProvider(settings), credentials, platforms.dzen


def until_published(provider, credentials, checkpoints, draft=None, limit=6):
    answers = []
    for _ in range(limit):
        outcome = provider.publish(
            credentials,
            bytes_clip(DATA),
            draft or PostDraft("t"),
            checkpoints[-1] if checkpoints else None,
            checkpoints.append,
        )
        answers.append(outcome)
        if isinstance(outcome, Published):
            return outcome, answers
    raise AssertionError(answers)


def test_the_studio_flow_publishes_the_clip(dzen, checkpoints):
    provider, credentials, emulator = dzen
    published, answers = until_published(provider, credentials, checkpoints, PostDraft("Заголовок", "Текст"))

    (video,) = emulator.published_videos()
    assert video.sha256 == hashlib.sha256(DATA).hexdigest()
    # VIPilot's bodies: no description (snippet ""), gifContent at the top of the final call.
    assert (video.title, video.description, video.publication_type) == ("Заголовок", "", "gif")
    (publish,) = emulator.calls_to("publish")
    assert {"gifContent", "visibleComments", "premiumTariffs", "gifMentions"} <= set(publish["body"])
    assert [type(a) for a in answers] == [Processing, Published]
    assert published.url == f"{emulator.base_url}/video/watch/{video.publication_id}"
    steps = [c["endpoint"] for c in emulator.calls if c["endpoint"] not in ("csrf-token", "tus-patch")]
    assert steps == [
        "add-publication",
        "start-upload-video",
        "finish-upload-video",
        "publication",
        "publication",
        "publish",
    ]
    assert len(emulator.calls_to("tus-patch")) == 3
    assert len(emulator.calls_to("csrf-token")) == 1  # kept while it is good
    # The draft, then the upload address, then each chunk, then "uploaded": each recorded.
    assert checkpoints[0] == {"publication_id": video.publication_id}
    assert checkpoints[-1]["uploaded"] is True


def test_an_expired_csrf_token_is_fetched_again_once(dzen, checkpoints):
    provider, credentials, emulator = dzen
    provider.check(credentials)
    emulator.expire_csrf()
    until_published(provider, credentials, checkpoints)
    assert len(emulator.calls_to("csrf-token")) == 2
    assert len(emulator.calls_to("csrf-refused")) == 1


def test_a_dead_session_asks_to_reconnect(dzen, checkpoints):
    provider, credentials, emulator = dzen
    emulator.end_session(credentials.access_token.get_secret_value())
    with pytest.raises(TokenExpired) as caught:
        provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    assert caught.value.message == "Токен истёк, переподключите платформу"
    with pytest.raises(TokenExpired):
        provider.refresh(credentials)


def test_a_captcha_is_a_refusal_that_says_what_to_do(dzen, checkpoints):
    provider, credentials, emulator = dzen
    emulator.inject("publish", "captcha")
    with pytest.raises(Rejected, match="вручную"):
        until_published(provider, credentials, checkpoints)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("fp_required", "подпись браузера (fp)"), ("not_ok", "ответ «IN_PROGRESS»")],
)
def test_a_final_answer_that_is_not_ok_fails_honestly_with_the_manual_way(dzen, checkpoints, kind, reason):
    """Published only on {"result": "OK"}, as VIPilot required; never a success otherwise."""
    provider, credentials, emulator = dzen
    emulator.inject("publish-answer", kind)
    with pytest.raises(Rejected) as caught:
        until_published(provider, credentials, checkpoints)
    assert reason in caught.value.message
    assert caught.value.message.endswith("опубликуйте этот клип в студии Дзена вручную")
    assert caught.value.code == "DZEN_PUBLISH_MANUALLY"  # the console links the studio by it
    assert emulator.published_videos() == []


def test_the_studio_refuses_bodies_no_public_client_sends(dzen):
    provider, credentials, _emulator = dzen
    with pytest.raises(Rejected, match="validation-error"):
        provider._call(
            "POST",
            "/editor-api/v2/add-publication",
            credentials,
            json={"publicationType": "short_video", "content": {"shortVideoContent": {}}},
        )


def test_a_broken_upload_continues_from_the_acknowledged_offset(dzen, checkpoints):
    provider, credentials, emulator = dzen
    emulator.inject("tus-patch", "cut", after_bytes=3_000_000)
    until_published(provider, credentials, checkpoints)
    (video,) = emulator.published_videos()
    assert video.sha256 == hashlib.sha256(DATA).hexdigest()
    assert len(emulator.calls_to("add-publication")) == 1


def test_out_of_time_it_hands_over_and_the_next_attempt_finishes(dzen, checkpoints):
    provider, credentials, emulator = dzen
    with pytest.raises(UploadIncomplete) as caught:
        provider.publish(
            credentials,
            bytes_clip(DATA),
            PostDraft("t"),
            None,
            checkpoints.append,
            deadline=time.monotonic() + 30,
        )
    # One chunk per attempt at least, so handing over always makes progress.
    assert 0 < caught.value.checkpoint["offset"] < len(DATA)
    until_published(provider, credentials, checkpoints)
    assert len(emulator.calls_to("start-upload-video")) == 1


def test_a_retry_after_the_upload_only_checks_and_publishes(dzen, checkpoints):
    provider, credentials, emulator = dzen
    emulator.inject("publish", "http_500")
    provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    with pytest.raises(PlatformUnavailable):
        provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), checkpoints[-1], checkpoints.append)
    until_published(provider, credentials, checkpoints)
    assert len(emulator.calls_to("tus-patch")) == 3
    assert len(emulator.published_videos()) == 1


def test_check_finds_the_publisher_from_the_session(settings, platforms):
    cookies = platforms.dzen.issue_session("0123456789abcdef01234567", "Закаты")
    account = DzenProvider(settings).check(Credentials(SecretStr(cookies)))
    assert (account.account_id, account.name) == ("0123456789abcdef01234567", "Закаты")
    assert account.extra == {"publisher_id": "0123456789abcdef01234567"}


def test_a_dead_session_fails_the_check(settings, platforms):
    with pytest.raises(TokenExpired):
        DzenProvider(settings).check(Credentials(SecretStr("Session_id=nothing; yandexuid=1")))


def test_stats_in_batches_of_50(dzen, checkpoints):
    provider, credentials, emulator = dzen
    until_published(provider, credentials, checkpoints)
    (video,) = emulator.published_videos()
    video.views, video.likes, video.comments, video.reposts = 10, 2, 1, 3
    ids = [video.publication_id] + [f"{i:024x}" for i in range(60)]
    stats = provider.fetch_stats(credentials, ids)
    assert stats == {video.publication_id: PostStats(views=10, likes=2, comments=1, reposts=3)}
    assert [c["ids"] for c in emulator.calls_to("stats2")] == [50, 11]
