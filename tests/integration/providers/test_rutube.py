import hashlib
import http.server
import threading

import pytest
from pydantic import SecretStr

from autopost.domain.errors import PlatformRateLimited, PlatformUnavailable, Rejected, TokenExpired
from autopost.domain.models import Credentials
from autopost.providers.base import ClipSource, PostDraft, PostStats, Processing, Published
from autopost.providers.rutube import RutubeProvider
from emulators.rutube import DEMO_LOGIN, DEMO_PASSWORD

DATA = bytes(range(256)) * 12_000  # about 3 MB


@pytest.fixture(scope="module")
def file_server():
    """Where Rutube fetches the clip from: a plain HTTP server (S3 plays it in the flows)."""
    served = {"/clip.mp4": DATA}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            return

        def do_GET(self):
            hits.append(self.path)
            body = served.get(self.path.split("?")[0])
            if body is None:
                self.send_response(403)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def shared_clip(base_url, path="/clip.mp4"):
    """A clip whose bytes the worker never reads: Rutube gets a URL."""

    def never(_offset):
        raise AssertionError("the clip's bytes must not pass through the worker")

    return ClipSource(
        size=len(DATA),
        filename="clip.mp4",
        content_type="video/mp4",
        open=never,
        share=lambda seconds: f"{base_url}{path}?expires={seconds}",
    )


@pytest.fixture
def rutube(settings, platforms):
    return RutubeProvider(settings), Credentials(SecretStr(platforms.rutube.issue_token())), platforms.rutube


def test_publishes_by_url_import_and_waits_for_the_download(rutube, file_server, checkpoints):
    provider, credentials, emulator = rutube
    base_url, hits = file_server
    draft = PostDraft("Закат", "Волга")

    first = provider.publish(credentials, shared_clip(base_url), draft, None, checkpoints.append)
    assert first == Processing("Rutube скачивает файл клипа", 30.0)
    # When the import began, then the video id, before any waiting.
    (video,) = emulator.videos.values()
    assert list(checkpoints[0]) == ["import_started"]
    assert checkpoints[1:] == [{"video_id": video.video_id, **checkpoints[0]}]
    second = provider.publish(credentials, shared_clip(base_url), draft, checkpoints[-1], checkpoints.append)

    assert second == Published(video.video_id, f"https://rutube.ru/video/{video.video_id}/", "moderation")
    assert video.sha256 == hashlib.sha256(DATA).hexdigest()
    assert (video.title, video.description, video.is_hidden) == ("Закат", "Волга", False)
    assert len(emulator.calls_to("import")) == 1
    assert hits[0].endswith(f"expires={6 * 3600}")  # the URL outlives Rutube's fetch


def test_a_failed_fetch_is_a_refusal_in_words(rutube, file_server, checkpoints):
    provider, credentials, _emulator = rutube
    base_url, _ = file_server
    clip = shared_clip(base_url, "/gone.mp4")  # the file server refuses it (403)
    assert isinstance(
        provider.publish(credentials, clip, PostDraft("t"), None, checkpoints.append), Processing
    )
    with pytest.raises(Rejected, match="Rutube не смог скачать файл клипа"):
        provider.publish(credentials, clip, PostDraft("t"), checkpoints[-1], checkpoints.append)


def test_a_video_moderation_refuses_is_a_refusal(rutube, file_server, checkpoints):
    provider, credentials, emulator = rutube
    emulator.inject("moderation", "blocked")
    clip = shared_clip(file_server[0])
    provider.publish(credentials, clip, PostDraft("t"), None, checkpoints.append)
    with pytest.raises(Rejected, match="заблокировано модерацией"):
        provider.publish(credentials, clip, PostDraft("t"), checkpoints[-1], checkpoints.append)


@pytest.mark.parametrize("url", ["ftp://example.com/c.mp4", "https://example.com/" + "a" * 600])
def test_rutube_refuses_what_its_import_refuses(rutube, checkpoints, url):
    provider, credentials, _emulator = rutube
    clip = ClipSource(1, "c.mp4", "video/mp4", open=lambda _o: None, share=lambda _s: url)
    with pytest.raises(Rejected, match="url: Неправильный url"):
        provider.publish(credentials, clip, PostDraft("t"), None, checkpoints.append)
    assert [list(c) for c in checkpoints] == [["import_started"]]  # no video recorded


def test_an_import_whose_answer_was_lost_is_found_again_not_repeated(rutube, file_server, checkpoints):
    provider, credentials, emulator = rutube
    clip, draft = shared_clip(file_server[0]), PostDraft("Потерянный ответ")
    emulator.add_video(user_id=501)  # another video of the account, older
    emulator.inject("import", "lost_answer")
    with pytest.raises(PlatformUnavailable):
        provider.publish(credentials, clip, draft, None, checkpoints.append)
    # Rutube made the video; we never heard.
    assert [v.title for v in emulator.videos.values()].count("Потерянный ответ") == 1

    outcome = provider.publish(credentials, clip, draft, checkpoints[-1], checkpoints.append)

    made = [v for v in emulator.videos.values() if v.title == "Потерянный ответ"]
    assert len(made) == 1
    assert checkpoints[-1]["video_id"] == made[0].video_id
    assert isinstance(outcome, (Processing, Published))


def test_a_same_titled_video_from_before_the_import_is_not_taken_for_it(rutube, file_server, checkpoints):
    provider, credentials, emulator = rutube
    clip, draft = shared_clip(file_server[0]), PostDraft("Старое")
    old = emulator.add_video(user_id=501)
    emulator.videos[old].title = "Старое"
    emulator.videos[old].created_ts = "2020-01-01T10:00:00"
    provider.publish(
        credentials, clip, draft, {"import_started": "2026-01-01T00:00:00.000Z"}, checkpoints.append
    )
    assert len(emulator.calls_to("import")) == 1  # imported anew
    assert checkpoints[-1]["video_id"] != old


def test_a_retry_checks_the_recorded_video_and_never_imports_twice(rutube, file_server, checkpoints):
    provider, credentials, emulator = rutube
    clip = shared_clip(file_server[0])
    provider.publish(credentials, clip, PostDraft("t"), None, checkpoints.append)
    emulator.inject("video", "http_500")
    with pytest.raises(PlatformUnavailable):
        provider.publish(credentials, clip, PostDraft("t"), checkpoints[-1], checkpoints.append)
    assert isinstance(
        provider.publish(credentials, clip, PostDraft("t"), checkpoints[-1], checkpoints.append), Published
    )
    assert len(emulator.calls_to("import")) == 1


def test_login_and_password_are_exchanged_once_for_a_token(settings, platforms):
    provider = RutubeProvider(settings)
    token = provider.token_for(DEMO_LOGIN, SecretStr(DEMO_PASSWORD))
    assert platforms.rutube.tokens[token.get_secret_value()] == 501
    account = provider.check(Credentials(token, extra={"login": DEMO_LOGIN}))
    assert account.name == DEMO_LOGIN  # no videos yet to name the channel by


def test_a_wrong_password_says_what_rutube_accepts(settings, platforms):
    with pytest.raises(TokenExpired, match="телефону или VK ID"):
        RutubeProvider(settings).token_for(DEMO_LOGIN, SecretStr("wrong"))


def test_check_reads_the_accounts_own_videos(rutube, file_server, checkpoints):
    provider, credentials, emulator = rutube
    clip = shared_clip(file_server[0])
    provider.publish(credentials, clip, PostDraft("t"), None, checkpoints.append)
    provider.publish(credentials, clip, PostDraft("t"), checkpoints[-1], checkpoints.append)
    assert provider.check(credentials).name == "Канал 501"
    assert emulator.calls_to("person")


def test_stats_are_the_videos_hits(rutube, file_server, checkpoints):
    provider, credentials, emulator = rutube
    clip = shared_clip(file_server[0])
    provider.publish(credentials, clip, PostDraft("t"), None, checkpoints.append)
    provider.publish(credentials, clip, PostDraft("t"), checkpoints[-1], checkpoints.append)
    (video,) = emulator.videos.values()
    video.hits = 77
    assert provider.fetch_stats(credentials, [video.video_id]) == {video.video_id: PostStats(views=77)}


@pytest.mark.parametrize(
    ("kind", "error"),
    [("token_expired", TokenExpired), ("rate_limit", PlatformRateLimited), ("http_500", PlatformUnavailable)],
)
def test_failures_map_onto_the_platform_error_set(rutube, file_server, checkpoints, kind, error):
    provider, credentials, emulator = rutube
    emulator.inject("import", kind, retry_after=7)
    with pytest.raises(error):
        provider.publish(credentials, shared_clip(file_server[0]), PostDraft("t"), None, checkpoints.append)
    assert all("video_id" not in c for c in checkpoints)  # nothing was made


def test_a_dead_token_is_token_expired_and_not_refreshed(settings, platforms):
    provider = RutubeProvider(settings)
    with pytest.raises(TokenExpired):
        provider.check(Credentials(SecretStr("dead-token-0000000")))
    with pytest.raises(TokenExpired):
        provider.refresh(Credentials(SecretStr("x")))


def test_an_import_that_reads_deleted_without_a_reason_while_starting_still_publishes(
    rutube, file_server, checkpoints
):
    """crosspostly/fac saw DELETED within 10 s of an import and waits 5 minutes before
    believing it: within that grace it is a start, not a refusal."""
    provider, credentials, emulator = rutube
    emulator.starting_reads = 2
    clip, draft = shared_clip(file_server[0]), PostDraft("Медленный старт")
    answers = [provider.publish(credentials, clip, draft, None, checkpoints.append)]
    for _ in range(4):
        answers.append(provider.publish(credentials, clip, draft, checkpoints[-1], checkpoints.append))
        if isinstance(answers[-1], Published):
            break
    assert [a.state for a in answers[:2]] == ["Rutube начинает импорт", "Rutube начинает импорт"]
    assert isinstance(answers[-1], Published)
    assert len(emulator.calls_to("import")) == 1


def test_a_reasonless_deleted_import_past_the_grace_is_a_refusal(rutube, file_server, checkpoints):
    provider, credentials, emulator = rutube
    emulator.starting_reads = 5
    clip = shared_clip(file_server[0])
    provider.publish(credentials, clip, PostDraft("t"), None, checkpoints.append)
    late = dict(checkpoints[-1], import_started="2026-01-01T00:00:00.000Z")
    with pytest.raises(Rejected, match="причина не указана"):
        provider.publish(credentials, clip, PostDraft("t"), late, checkpoints.append)
