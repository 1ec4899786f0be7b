import hashlib
import time
from datetime import UTC, datetime, timedelta

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
from autopost.domain.platforms import PublishFormat
from autopost.infra.settings import Settings
from autopost.providers import vk_session
from autopost.providers.base import PostDraft, PostStats, Processing, Published
from autopost.providers.oauth import OAuthGrant, pkce_pair
from autopost.providers.vk import VkProvider
from autopost.providers.vk_session import session_cookies
from tests.support.platforms import bytes_clip
from tests.support.reference import vk_method_parameters

DATA = bytes(range(256)) * 8000  # 2 MB


def credentials_for(access, refresh=None, **extra):
    return Credentials(
        SecretStr(access),
        SecretStr(refresh) if refresh else None,
        account_id="1001",
        extra={"device_id": "dev", **extra},
    )


def session_for(emulator, user_id=1001, **extra):
    """A connection through the signed-in VK session: only its own cookies are kept."""
    cookies = session_cookies(emulator.issue_session(user_id))
    return Credentials(SecretStr(cookies), account_id=str(user_id), extra={"auth": "session", **extra})


@pytest.fixture(autouse=True)
def calls_at_any_pace(platforms, monkeypatch, request):
    """The provider alone has no request budget (the worker's throttle is the budget): the
    emulator's 3 calls a second is switched off but where a test is about it."""
    if "three_requests" not in request.node.name:
        monkeypatch.setattr(platforms.vk, "enforce_rate_limit", False)


@pytest.fixture
def vk(settings, platforms):
    """The signed-in session: web tokens of VK's video app, which may use the clip methods."""
    return VkProvider(settings), session_for(platforms.vk), platforms.vk


@pytest.fixture
def oauth(settings, platforms):
    """A token of our own app with the video right: VK refuses it the clip methods (error 3)."""
    access, refresh = platforms.vk.issue_token()
    return VkProvider(settings), credentials_for(access, refresh), platforms.vk


def until_published(provider, credentials, draft, checkpoints, clip=None, limit=10):
    """Call `publish` as the state machine does: again after each Processing answer."""
    answers = []
    for _ in range(limit):
        state = checkpoints[-1] if checkpoints else None
        outcome = provider.publish(credentials, clip or bytes_clip(DATA), draft, state, checkpoints.append)
        answers.append(outcome)
        if isinstance(outcome, Published):
            return outcome, answers
    raise AssertionError(f"not published: {answers}")


def test_a_clip_goes_create_upload_encode_edit_publish_as_vks_video_app_calls_them(vk, checkpoints):
    provider, credentials, emulator = vk
    published, answers = until_published(provider, credentials, PostDraft("Закат", "описание"), checkpoints)

    (video,) = emulator.uploaded_videos()
    assert video.is_short and video.published
    assert video.sha256 == hashlib.sha256(DATA).hexdigest() and video.size == len(DATA)
    assert video.description == "Закат\n\nописание"
    assert [type(a) for a in answers] == [Processing, Published]  # one encodeProgress not ready
    assert answers[0].state.startswith("VK обрабатывает клип")
    assert published == Published(
        post_id=f"1001_{video.video_id}",
        url=f"https://vk.com/clip1001_{video.video_id}",
        processing_state="ready",
        published_as="clip",
    )
    # The clip's id and upload session were recorded before the bytes went, the hash before waiting.
    assert checkpoints[0]["video_id"] == video.video_id and "hash" not in checkpoints[0]
    assert len(checkpoints[0]["upload_session"]) == 14
    assert checkpoints[1]["hash"] == video.video_hash
    methods = [
        c["endpoint"] for c in emulator.calls if c["endpoint"].startswith(("shortVideo", "upload", "web"))
    ]
    assert methods == [
        "web_token",
        "shortVideo.create",
        "upload/clip",
        "shortVideo.encodeProgress",
        "shortVideo.encodeProgress",
        "shortVideo.edit",
        "shortVideo.publish",
    ]
    # One web token for the whole flow, asked for with the session's cookie alone.
    (minted,) = emulator.calls_to("web_token")
    assert minted["cookies"] == ["remixnsid"] and minted["app_id"] == "52461373"
    (created,) = emulator.calls_to("shortVideo.create")
    assert (created["version"], created["client_id"]) == ("5.276", "52461373")
    assert emulator.calls_to("video.save") == []


def test_the_clip_upload_is_one_raw_body_with_its_range_and_session(vk):
    """VK's uploader sends the file raw with `Content-Range` and `Session-ID`
    (MediaOrcestrator); diveclub sends multipart `file`. A body without its range is refused."""
    provider, credentials, _emulator = vk
    created = provider.call("shortVideo.create", credentials, file_size=len(DATA))
    bare = httpx.post(created["upload_url"], content=DATA, headers={"Content-Type": "video/mp4"})
    assert bare.status_code == 400
    wrong_size = httpx.post(
        created["upload_url"],
        content=DATA,
        headers={"Content-Range": f"bytes 0-99/{len(DATA) + 1}", "Session-ID": "a1b2c3d4e5f6a7"},
    )
    assert wrong_size.status_code == 416
    right = httpx.post(
        created["upload_url"],
        content=DATA,
        headers={"Content-Range": f"bytes 0-{len(DATA) - 1}/{len(DATA)}", "Session-ID": "a1b2c3d4e5f6a7"},
    )
    assert set(right.json()) == {"video_hash", "size", "owner_id", "video_id"}


def test_the_old_retval_answer_of_the_upload_server_publishes_once(vk, checkpoints):
    """`<retval>1</retval>` (diveclub clip_upload.py) is a success without a hash: publish
    says when the clip is ready; nothing is uploaded again."""
    provider, credentials, emulator = vk
    emulator.upload_answer = "retval"
    emulator.processing_checks = 0
    emulator.inject("shortVideo.publish", "not_processed")
    published, answers = until_published(provider, credentials, PostDraft("t"), checkpoints)

    assert [type(a) for a in answers] == [Processing, Published]
    assert len(emulator.calls_to("upload/clip")) == 1
    assert len(emulator.calls_to("shortVideo.create")) == 1
    assert emulator.calls_to("shortVideo.encodeProgress") == []
    (video,) = emulator.uploaded_videos()
    assert video.published and published.post_id == f"1001_{video.video_id}"


def test_publish_before_encoding_ends_answers_3001_and_is_waited_out(vk, checkpoints):
    provider, credentials, emulator = vk
    emulator.processing_checks = 0
    emulator.inject("shortVideo.publish", "not_processed")
    _, answers = until_published(provider, credentials, PostDraft("t"), checkpoints)
    assert [type(a) for a in answers] == [Processing, Published]
    assert answers[0].state == "VK ещё обрабатывает клип"
    assert len(emulator.calls_to("shortVideo.create")) == 1


def test_vk_refuses_the_clip_methods_to_a_token_of_our_app(oauth):
    provider, credentials, emulator = oauth
    with pytest.raises(Rejected, match="код ошибки 3"):
        provider.call("shortVideo.create", credentials, file_size=len(DATA))
    assert emulator.calls_to("shortVideo.create") == [{"endpoint": "shortVideo.create", "refused": True}]


def test_an_oauth_connection_publishes_a_regular_video_and_says_so(oauth, checkpoints):
    provider, credentials, emulator = oauth
    published, answers = until_published(provider, credentials, PostDraft("Закат", "описание"), checkpoints)

    assert emulator.calls_to("shortVideo.create") == []  # no call VK is known to refuse
    (save,) = emulator.calls_to("video.save")
    assert save["is_short"] is None and save["version"] == "5.199"
    (video,) = emulator.uploaded_videos()
    assert not video.is_short and (video.title, video.description) == ("Закат", "описание")
    assert [type(a) for a in answers] == [Processing, Published]  # video.get said `processing`
    assert published.published_as == "video"
    assert published.url == f"https://vk.com/video1001_{video.video_id}"


def test_format_video_with_a_session_uses_video_save(vk, checkpoints):
    provider, credentials, emulator = vk
    published, _ = until_published(
        provider, credentials, PostDraft("t", format=PublishFormat.VIDEO), checkpoints
    )
    assert emulator.calls_to("shortVideo.create") == []
    assert len(emulator.calls_to("video.save")) == 1
    assert published.published_as == "video"


def test_a_community_the_user_edits_gets_the_clip(settings, platforms, checkpoints):
    credentials = session_for(platforms.vk, group_id="2001")
    published, _ = until_published(VkProvider(settings), credentials, PostDraft("t"), checkpoints)
    (video,) = platforms.vk.uploaded_videos()
    assert video.owner_id == -2001
    assert published.url == f"https://vk.com/clip-2001_{video.video_id}"


def test_a_community_the_user_does_not_manage_is_refused(settings, platforms, checkpoints):
    credentials = session_for(platforms.vk, group_id="999")
    with pytest.raises(Rejected, match="нет прав"):
        until_published(VkProvider(settings), credentials, PostDraft("t"), checkpoints)


def test_a_video_vk_refuses_fails_with_vks_reason(oauth, checkpoints):
    provider, credentials, emulator = oauth
    emulator.inject("processing", "restricted", message="Нарушение авторских прав")
    with pytest.raises(Rejected) as caught:
        until_published(provider, credentials, PostDraft("t"), checkpoints)
    assert caught.value.message == "VK не опубликовал видео: Нарушение авторских прав"


def test_a_clip_vk_refuses_to_publish_is_rejected(vk, checkpoints):
    provider, credentials, emulator = vk
    emulator.inject("processing", "restricted", message="Нарушение авторских прав")
    with pytest.raises(Rejected):
        until_published(provider, credentials, PostDraft("t"), checkpoints)
    assert not emulator.uploaded_videos()[0].published


def test_a_retry_after_the_upload_finished_does_not_upload_again(vk, checkpoints):
    provider, credentials, emulator = vk
    first = provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    assert isinstance(first, Processing)
    provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), checkpoints[-1], checkpoints.append)
    assert len(emulator.calls_to("shortVideo.create")) == 1
    assert len(emulator.calls_to("upload/clip")) == 1
    assert len(emulator.uploaded_videos()) == 1


def test_a_broken_clip_upload_is_sent_again_to_the_same_clip(vk, checkpoints):
    provider, credentials, emulator = vk
    emulator.inject("upload/clip", "cut", after_bytes=500_000)
    with pytest.raises(PlatformUnavailable):
        provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    assert emulator.uploaded_videos() == []
    until_published(provider, credentials, PostDraft("t"), checkpoints)
    assert len(emulator.calls_to("shortVideo.create")) == 1
    (video,) = emulator.uploaded_videos()
    assert video.video_id == checkpoints[0]["video_id"] and video.published


def test_an_upload_address_vk_no_longer_takes_starts_a_new_unpublished_clip(vk, checkpoints):
    provider, credentials, emulator = vk
    emulator.inject("upload/clip", "cut", after_bytes=500_000)
    with pytest.raises(PlatformUnavailable):
        provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    spent = dict(checkpoints[-1], upload_url=checkpoints[-1]["upload_url"].replace("hash=", "hash=spent"))
    checkpoints.append(spent)
    until_published(provider, credentials, PostDraft("t"), checkpoints)
    published = [v for v in emulator.videos.values() if v.published]
    assert len(published) == 1 and published[0].video_id != spent["video_id"]


def test_a_broken_video_upload_finishes_the_same_video(oauth, checkpoints):
    provider, credentials, emulator = oauth
    emulator.inject("upload/video", "cut", after_bytes=500_000)
    with pytest.raises(PlatformUnavailable):
        provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    until_published(provider, credentials, PostDraft("t"), checkpoints)
    assert len(emulator.calls_to("video.save")) == 1
    assert len(emulator.uploaded_videos()) == 1


def test_a_web_token_that_lapsed_is_minted_again_once(vk, checkpoints):
    provider, credentials, emulator = vk
    provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    emulator.expire_web_tokens()
    until_published(provider, credentials, PostDraft("t"), checkpoints)
    assert len(emulator.calls_to("web_token")) == 2


def test_a_web_token_minted_at_another_address_is_not_used_here(vk):
    """VK binds a web token to the address that minted it: one minted elsewhere (another
    function's) is refused with error 5, and this environment mints its own."""
    provider, credentials, emulator = vk
    elsewhere = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    foreign = elsewhere.post(
        f"{emulator.base_url}/al_video.php?act=web_token",
        data={"version": "1", "app_id": "52461373"},
        headers={"Cookie": credentials.access_token.get_secret_value()},
    ).json()[0]
    vk_session._WEB_TOKENS.put(
        hashlib.sha256(credentials.access_token.get_secret_value().encode()).hexdigest(),
        foreign["access_token"],
        foreign["expires"],
    )
    assert provider.check(credentials).account_id == "1001"
    assert emulator.calls_to("users.get")[0] == {"endpoint": "users.get", "another_address": True}
    assert len(emulator.calls_to("web_token")) == 2


def test_a_session_vk_ended_says_so_and_is_not_retried(vk, checkpoints):
    provider, credentials, emulator = vk
    emulator.end_session(credentials.access_token.get_secret_value())
    with pytest.raises(TokenExpired) as caught:
        provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    assert caught.value.message == "Сессия VK истекла, подключите VK заново"
    assert caught.value.code == "VK_SESSION_EXPIRED"
    with pytest.raises(TokenExpired, match="Сессия VK истекла"):
        provider.refresh(credentials)
    assert emulator.calls_to("shortVideo.create") == []


def test_only_the_session_cookies_are_kept():
    kept = session_cookies("remixlang=0; remixnsid=abc; _ym_uid=1; remixsid=def;tmr_lvid=x; p=q")
    assert kept == "p=q; remixnsid=abc; remixsid=def"
    with pytest.raises(Rejected) as caught:
        session_cookies("remixlang=0; _ym_uid=1")
    assert caught.value.code == "VK_SESSION_INVALID"


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("token_expired", TokenExpired),
        ("rate_limit", PlatformRateLimited),
        ("flood", PlatformRateLimited),
        ("internal", PlatformUnavailable),
        ("http_500", PlatformUnavailable),
    ],
)
def test_api_errors_map_onto_the_platform_error_set(vk, checkpoints, kind, error):
    provider, credentials, emulator = vk
    emulator.inject("shortVideo.create", kind, times=2)
    with pytest.raises(error) as caught:
        provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)
    assert caught.value.message  # in the user's words
    assert checkpoints == []
    assert emulator.calls_to("video.save") == []


def test_rate_limit_answers_say_how_long_to_wait(oauth):
    provider, credentials, emulator = oauth
    emulator.inject("video.get", "rate_limit")
    with pytest.raises(PlatformRateLimited) as caught:
        provider.fetch_stats(credentials, ["1001_1"])
    assert caught.value.retry_after == 1.0


def test_vk_enforces_three_requests_a_second_per_token(oauth):
    provider, credentials, _ = oauth
    for _ in range(3):
        provider.fetch_stats(credentials, ["1001_1"])
    with pytest.raises(PlatformRateLimited):
        provider.fetch_stats(credentials, ["1001_1"])


def test_a_dead_token_is_token_expired(settings, platforms):
    provider = VkProvider(settings)
    with pytest.raises(TokenExpired):
        provider.fetch_stats(Credentials(SecretStr("nope")), ["1_1"])


def test_the_upload_server_failing_is_unavailable(vk, checkpoints):
    provider, credentials, emulator = vk
    emulator.inject("upload/clip", "http_500")
    with pytest.raises(PlatformUnavailable):
        provider.publish(credentials, bytes_clip(DATA), PostDraft("t"), None, checkpoints.append)


def test_an_upload_past_its_deadline_stops(vk, checkpoints):
    provider, credentials, _ = vk
    with pytest.raises(PlatformUnavailable, match="10 минут"):
        provider.publish(
            credentials,
            bytes_clip(DATA),
            PostDraft("t"),
            None,
            checkpoints.append,
            deadline=time.monotonic() - 1,
        )


def test_stats_are_fetched_200_videos_a_call(settings, platforms):
    access, _ = platforms.vk.issue_token()
    credentials = Credentials(SecretStr(access), account_id="1001")
    posts = platforms.vk.add_videos(1001, 450, kind="video", views=42, likes=3, comments=2, reposts=1)

    stats = VkProvider(settings).fetch_stats(credentials, posts)

    assert [c["videos"] for c in platforms.vk.calls_to("video.get")] == [200, 200, 50]
    assert len(stats) == 450
    assert stats[posts[0]] == PostStats(views=42, likes=3, comments=2, reposts=1)


def test_clip_figures_come_from_shortvideo_get_never_as_zeros(settings, platforms):
    """Clips are not in video.get: with a session, each clip's figures come from
    shortVideo.get; an OAuth token gets none for them (left out: no data, not 0)."""
    clips = platforms.vk.add_videos(1001, 2, kind="short_video", views=42, likes=3, comments=2, reposts=1)
    videos = platforms.vk.add_videos(1001, 1, kind="video", views=7, likes=1, comments=0, reposts=0)

    with_session = VkProvider(settings).fetch_stats(session_for(platforms.vk), clips + videos)
    assert with_session[clips[0]] == PostStats(views=42, likes=3, comments=2, reposts=1)
    assert with_session[videos[0]] == PostStats(views=7, likes=1, comments=0, reposts=0)
    assert len(platforms.vk.calls_to("shortVideo.get")) == 2  # one clip a call

    access, _ = platforms.vk.issue_token()
    with_oauth = VkProvider(settings).fetch_stats(credentials_for(access), clips + videos)
    assert set(with_oauth) == set(videos)


def approve(url):
    """The user presses «Разрешить» on VK's page; VK redirects back to the console."""
    assert "Разрешить" in httpx.get(url).text
    return httpx.URL(httpx.get(url.replace("/authorize?", "/authorize/approve?")).headers["location"])


def test_vk_id_code_exchange_with_pkce_and_refresh(settings, platforms):
    provider = VkProvider(settings)
    verifier, challenge = pkce_pair()
    returned = approve(provider.authorize_url("st", challenge, "https://console.local/")).params
    assert returned["state"] == "st"

    credentials, account = provider.complete(
        OAuthGrant("https://console.local/", verifier, code=returned["code"], device_id=returned["device_id"])
    )
    assert (account.account_id, account.name) == ("1001", "Иван Петров")
    assert credentials.extra["device_id"] == returned["device_id"]
    assert credentials.refresh_token is not None

    refreshed = provider.refresh(credentials)
    assert refreshed.access_token.get_secret_value() != credentials.access_token.get_secret_value()
    assert provider.check(refreshed).account_id == "1001"
    # Refresh tokens are single use: the old one is refused now.
    with pytest.raises(TokenExpired):
        provider.refresh(credentials)


def test_a_wrong_pkce_verifier_is_refused(settings, platforms):
    provider = VkProvider(settings)
    _, challenge = pkce_pair()
    returned = approve(provider.authorize_url("st", challenge, "https://cb")).params
    with pytest.raises(TokenExpired):
        provider.complete(OAuthGrant("https://cb", "not-the-verifier", code=returned["code"], device_id="d"))


@pytest.fixture
def implicit(platforms, monkeypatch, settings):
    monkeypatch.setenv("VK_AUTH_FLOW", "implicit")
    return VkProvider(Settings.from_environment())


def test_the_legacy_implicit_flow_brings_the_token_in_the_fragment(implicit, platforms):
    url = implicit.authorize_url("st", "unused", "https://console.local/")
    query = httpx.URL(url).params
    # No `offline`: VK calls it an invalid scope since 5.105 (vk-android-sdk#518).
    assert (query["response_type"], query["scope"], query["v"]) == ("token", "video,groups", "5.199")
    location = approve(url)
    assert location.query == b""  # nothing for a server to log: the token is in the fragment
    fragment = dict(httpx.QueryParams(location.fragment))
    assert fragment["state"] == "st" and fragment["expires_in"] == "86400"

    credentials, account = implicit.complete(
        OAuthGrant(
            "https://console.local/", "", access_token=SecretStr(fragment["access_token"]), expires_in=86400
        )
    )
    assert account.account_id == "1001"  # from VK, not from the fragment's user_id
    assert credentials.refresh_token is None
    assert timedelta(hours=23) < credentials.expires_at - datetime.now(UTC) <= timedelta(days=1)
    with pytest.raises(TokenExpired):
        implicit.refresh(credentials)  # no refresh: the user connects again


def test_an_implicit_token_bound_to_the_browsers_address_is_refused_at_connect_in_its_own_words(
    implicit, platforms
):
    """Without `offline` the legacy token works only from the browser's address
    (vk-android-sdk#449): refused at connect with its own code, not a «token expired» loop."""
    browser = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    url = implicit.authorize_url("st", "unused", "https://console.local/")
    location = httpx.URL(browser.get(url.replace("/authorize?", "/authorize/approve?")).headers["location"])
    fragment = dict(httpx.QueryParams(location.fragment))
    with pytest.raises(TokenExpired) as caught:
        implicit.complete(
            OAuthGrant("https://console.local/", "", access_token=SecretStr(fragment["access_token"]))
        )
    assert caught.value.code == "VK_TOKEN_BOUND_TO_ADDRESS"
    assert "только с адреса" in caught.value.message


def test_vk_refuses_the_legacy_flow_to_a_new_app_and_offline_on_its_own_page(platforms):
    """What VK shows instead of a redirect: Security Error for a new app (vkomic#50), invalid
    scope for `offline` since 5.105 (vk-android-sdk#518)."""
    base = platforms.vk.base_url
    query = {"client_id": "51234567", "redirect_uri": "https://cb", "response_type": "token", "v": "5.199"}
    offline = httpx.get(
        f"{base}/authorize", params={**query, "scope": "video,offline"}, follow_redirects=True
    )
    assert offline.json() == {"error": "invalid_request", "error_description": "invalid scope"}
    platforms.vk.legacy_flow_allowed = False
    refused = httpx.get(f"{base}/authorize", params={**query, "scope": "video"}, follow_redirects=True)
    assert str(refused.url).endswith("/error?err=2")
    assert refused.json() == {"error": "invalid_request", "error_description": "Security Error"}


def test_a_vk_id_app_without_the_video_right_is_refused_at_connect(settings, platforms):
    """VK ID drops `video` for an app that does not hold it, silently (vkrss#24): the
    granted `scope` tells, and the connection is refused with what to do."""
    platforms.vk.app_rights = frozenset({"groups"})
    provider = VkProvider(settings)
    verifier, challenge = pkce_pair()
    returned = approve(provider.authorize_url("st", challenge, "https://cb")).params
    with pytest.raises(Rejected) as caught:
        provider.complete(
            OAuthGrant("https://cb", verifier, code=returned["code"], device_id=returned["device_id"])
        )
    assert caught.value.code == "VK_NO_VIDEO_RIGHTS"
    assert "сессию VK" in caught.value.message


def test_a_token_without_the_video_right_fails_the_connection_check(settings, platforms):
    access, _ = platforms.vk.issue_token(scopes=frozenset({"groups"}))
    with pytest.raises(Rejected) as caught:
        VkProvider(settings).check(credentials_for(access))
    assert caught.value.code == "VK_NO_VIDEO_RIGHTS"
    (refused,) = platforms.vk.calls_to("video.get")
    assert refused["missing_scope"] == "video"


def test_a_forged_implicit_token_is_refused(implicit, platforms):
    with pytest.raises(TokenExpired):
        implicit.complete(
            OAuthGrant("https://console.local/", "", access_token=SecretStr("forged"), expires_in=86400)
        )


def test_communities_the_user_administers_or_edits(vk):
    provider, credentials, emulator = vk
    assert provider.communities(credentials) == [(2001, "Клипы о закатах")]
    assert emulator.calls_to("groups.get")[0]["filter"] == "editor"


def test_documented_methods_get_only_documented_parameters(oauth, checkpoints, monkeypatch):
    """What we send to video.save, video.get, users.get and groups.get is in the official schema."""
    sent: list[tuple[str, set[str]]] = []
    provider, credentials, _ = oauth
    original = provider._http.post

    def spy(url, **kwargs):
        if "/method/" in str(url):
            sent.append((str(url).rsplit("/", 1)[-1], set(kwargs.get("data", {})) - {"access_token", "v"}))
        return original(url, **kwargs)

    monkeypatch.setattr(provider._http, "post", spy)
    until_published(provider, credentials, PostDraft("t", "d"), checkpoints)
    provider.check(credentials)
    provider.communities(credentials)
    provider.fetch_stats(credentials, ["1001_1"])
    for method, parameters in sent:
        if method.startswith("shortVideo."):
            continue  # undocumented: see the module's sources
        assert parameters <= vk_method_parameters(method), method
    assert {m for m, _ in sent} >= {"video.save", "video.get", "users.get", "groups.get"}


def test_vk_reports_no_stats_error_type_for_telegram_only(vk):
    # VK has stats: StatsUnavailable is Telegram's alone.
    provider, credentials, _ = vk
    assert provider.fetch_stats(credentials, []) == {}
    assert not issubclass(StatsUnavailable, Rejected)


def test_a_publication_whose_connection_changed_way_mid_flight_posts_once(settings, platforms, checkpoints):
    """A video begun over OAuth finishes through the session the user switched to; a clip
    begun through a session (never published) becomes a video over OAuth."""
    provider = VkProvider(settings)
    access, _ = platforms.vk.issue_token()
    first = provider.publish(
        credentials_for(access), bytes_clip(DATA), PostDraft("t"), None, checkpoints.append
    )
    assert isinstance(first, Processing) and checkpoints[-1]["flow"] == "video"
    published, _ = until_published(provider, session_for(platforms.vk), PostDraft("t"), checkpoints)
    assert published.published_as == "video" and len(platforms.vk.calls_to("video.save")) == 1

    begun: list = []
    provider.publish(session_for(platforms.vk), bytes_clip(DATA), PostDraft("c"), None, begun.append)
    assert begun[-1]["flow"] == "clip"
    published, _ = until_published(provider, credentials_for(access), PostDraft("c"), begun)
    assert published.published_as == "video"
    assert not [v for v in platforms.vk.videos.values() if v.is_short and v.published]
