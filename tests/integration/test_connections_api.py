"""Connecting and disconnecting platforms through the API, with moto and the emulators."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from autopost import runtime
from autopost.platforms import Platform
from autopost.settings import get_settings
from autopost.storage.tables import records


@pytest.fixture
def api(harness, platforms):
    return harness


def authorize(api, platform, user="user-1"):
    response = api.api("POST", f"/connections/{platform}/authorize", user=user)
    assert response.status == 200, response.body
    return response.body["authorizeUrl"]


def approve(url):
    """The user presses «Разрешить» on the platform's page; the platform redirects back."""
    page = httpx.get(url)
    assert "Разрешить" in page.text
    answer = httpx.get(url.replace("/authorize?", "/authorize/approve?"))
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    return location.path, {k: v[0] for k, v in parse_qs(location.query).items()}


def callback(api, path, query, **kwargs):
    return api.api("GET", path, query=query, user=kwargs.pop("user", None), **kwargs)


def connections(api, user="user-1"):
    return {c["platform"]: c for c in api.api("GET", "/connections", user=user).body["items"]}


def test_platforms_lists_limits_plan_and_connection(api):
    items = {p["platform"]: p for p in api.api("GET", "/platforms", plan="free").body["items"]}
    assert set(items) == {"vk", "rutube", "telegram", "dzen"}
    assert {k for k, p in items.items() if p["allowedByPlan"]} == {"vk", "telegram"}
    assert not any(p["connected"] for p in items.values())
    assert items["telegram"]["limits"] == {
        "maxBytes": 50 * 1024 * 1024,
        "maxDurationSeconds": None,
        "verified": True,
    }
    assert items["telegram"]["statsAvailable"] is False
    assert items["vk"]["connectMethod"] == "oauth"
    assert items["rutube"]["connectMethod"] == "form"


@pytest.mark.parametrize("platform", ["vk", "dzen"])
def test_oauth_connects_through_the_platforms_page_and_the_callback(api, platforms, platform):
    url = authorize(api, platform)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"{get_settings().public_api_url}/oauth/{platform}/callback"]

    path, returned = approve(url)
    assert path == f"/oauth/{platform}/callback"
    response = callback(api, path, returned)

    assert response.status == 302
    assert response.headers["Location"] == f"{get_settings().console_url}?connected={platform}"
    connection = connections(api)[platform]
    assert connection["status"] == "active"
    assert connection["accountId"] in ("1001", "77001")
    emulator = platforms.vk if platform == "vk" else platforms.dzen
    stored = records(get_settings()).connection.get("user-1", platform)
    plain_tokens = set(emulator.tokens)
    assert stored.tokens.as_dict()["access"] not in plain_tokens
    assert stored.tokens.as_dict()["access"].startswith("v1.")
    listed = {p["platform"]: p for p in api.api("GET", "/platforms").body["items"]}
    assert listed[platform]["connected"] is True
    assert listed[platform]["connection"]["status"] == "active"


def test_a_callback_without_state_is_refused_and_stores_nothing(api):
    path, returned = approve(authorize(api, "vk"))
    response = callback(api, path, {k: v for k, v in returned.items() if k != "state"})
    assert response.status == 400
    assert response.body["error"]["code"] == "OAUTH_STATE_INVALID"
    assert connections(api) == {}


def test_a_reused_state_is_refused(api):
    path, returned = approve(authorize(api, "vk"))
    assert callback(api, path, returned).status == 302
    api.api("DELETE", "/connections/vk")
    replay = callback(api, path, returned)
    assert replay.status == 400
    assert replay.body["error"]["details"] == {"reason": "unknown_or_used"}
    assert connections(api) == {}


def test_an_expired_state_is_refused(api):
    path, returned = approve(authorize(api, "vk"))
    control = records(get_settings()).control
    item = control.get(f"oauth#{returned['state']}")
    item.update(actions=[control.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])
    response = callback(api, path, returned)
    assert response.status == 400
    assert response.body["error"]["details"] == {"reason": "expired"}
    assert connections(api) == {}


def test_a_state_swapped_to_another_platform_is_refused(api):
    _, returned = approve(authorize(api, "vk"))
    response = callback(api, "/oauth/dzen/callback", returned)
    assert response.status == 400
    assert response.body["error"]["details"] == {"reason": "other_platform"}
    assert connections(api) == {}


def test_a_state_of_another_user_is_refused(api):
    path, returned = approve(authorize(api, "vk", user="user-1"))
    response = callback(api, path, returned, user="user-2")
    assert response.status == 400
    assert response.body["error"]["details"] == {"reason": "other_user"}
    assert connections(api, "user-1") == {}
    assert connections(api, "user-2") == {}


def test_a_forged_state_is_refused(api):
    path, returned = approve(authorize(api, "vk"))
    response = callback(api, path, {**returned, "state": "forged-" + returned["state"][7:]})
    assert response.status == 400
    assert connections(api) == {}


def test_the_user_cancelling_at_the_platform_stores_nothing(api):
    url = authorize(api, "vk")
    denied = httpx.get(url.replace("/authorize?", "/authorize/approve?") + "&deny=1")
    location = urlsplit(denied.headers["location"])
    response = callback(api, location.path, {k: v[0] for k, v in parse_qs(location.query).items()})
    assert response.status == 400
    assert connections(api) == {}


def test_a_browser_gets_a_page_in_words_with_the_way_back(api):
    from functions.api import handler
    from tests.support.http_events import http_event
    from tests.support.lambda_context import LambdaContext

    event = http_event("GET", "/oauth/vk/callback", user=None, query={"code": "x"})
    event["headers"]["accept"] = "text/html,application/xhtml+xml"
    raw = handler.lambda_handler(event, LambdaContext())
    assert raw["statusCode"] == 400
    assert "Подключение не удалось" in raw["body"]
    assert get_settings().console_url in raw["body"]


def test_oauth_is_only_for_vk_and_dzen(api):
    response = api.api("POST", "/connections/telegram/authorize")
    assert response.status == 422
    assert response.body["error"]["code"] == "OAUTH_NOT_SUPPORTED"


def test_telegram_with_the_users_own_bot(api, platforms):
    bot = platforms.telegram.add_bot()
    chat_id = platforms.telegram.add_channel("clips_channel", "Клипы", admin_bots=(bot,))
    response = api.api("POST", "/connections/telegram", body={"channel": "@clips_channel", "botToken": bot})
    assert response.status == 201, response.body
    assert response.body["accountName"] == "Клипы"
    assert response.body["accountId"] == str(chat_id)
    assert "botToken" not in str(api.api("GET", "/connections").body)
    assert bot not in str(api.api("GET", "/connections").body)


def test_telegram_through_the_services_bot(api, platforms, monkeypatch):
    bot = platforms.telegram.add_bot("service_bot")
    platforms.telegram.add_channel("svc_channel", admin_bots=(bot,))
    assert api.api("POST", "/connections/telegram", body={"channel": "@svc_channel"}).status == 422
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", bot)
    runtime.reset()
    assert api.api("POST", "/connections/telegram", body={"channel": "@svc_channel"}).status == 201
    stored = records(get_settings()).connection.get("user-1", "telegram")
    assert "access" in stored.tokens.as_dict()
    assert stored.extra.as_dict()["service_bot"] == "1"


def test_telegram_a_bot_that_cannot_post_is_refused_with_a_reason(api, platforms):
    bot = platforms.telegram.add_bot()
    platforms.telegram.add_channel("closed_channel")
    response = api.api("POST", "/connections/telegram", body={"channel": "@closed_channel", "botToken": bot})
    assert response.status == 422
    assert response.body["error"]["code"] == "CONNECTION_CHECK_FAILED"
    assert "администратором" in response.body["error"]["message"]
    assert connections(api) == {}


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "no-at-sign"},
        {"channel": "@ok_channel", "botToken": "not-a-token"},
        {"channel": "@ok_channel", "extra": 1},
    ],
)
def test_telegram_malformed_input_is_422(api, body):
    assert api.api("POST", "/connections/telegram", body=body).status == 422


def test_rutube_with_a_token_checked_by_a_real_call(api, platforms):
    token = platforms.rutube.issue_token(user_id=808)
    response = api.api("POST", "/connections/rutube", body={"token": token})
    assert response.status == 201
    assert response.body["accountId"] == "808"
    assert len(platforms.rutube.calls_to("profile")) == 1


def test_rutube_a_wrong_token_is_422_and_an_outage_503(api, platforms):
    wrong = api.api("POST", "/connections/rutube", body={"token": "0" * 40})
    assert wrong.status == 422
    platforms.rutube.inject("profile", "http_500")
    down = api.api("POST", "/connections/rutube", body={"token": platforms.rutube.issue_token()})
    assert down.status == 503
    assert down.body["error"]["code"] == "PLATFORM_UNAVAILABLE"
    assert connections(api) == {}


def test_connecting_is_limited_to_5_an_hour(api):
    statuses = [api.api("POST", "/connections/rutube", body={"token": "0" * 40}).status for _ in range(6)]
    assert statuses == [422] * 5 + [429]
    limited = api.api("POST", "/connections/vk/authorize")
    assert limited.status == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 3600


def test_disconnect_cancels_the_platforms_scheduled_publications(api, platforms):
    api.ready_clip()
    api.ready_clip(clip_id="clip-2")
    api.connect("user-1", Platform.TELEGRAM, Platform.VK)
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    for clip in ("clip-1", "clip-2"):
        assert (
            api.api(
                "POST",
                f"/clips/{clip}/publications",
                body={"platforms": ["telegram", "vk"], "title": "t", "scheduledAt": later},
            ).status
            == 201
        )

    response = api.api("DELETE", "/connections/telegram")

    assert response.status == 200
    assert response.body == {"platform": "telegram", "cancelledPublications": 2}
    statuses = {(p["platform"], p["status"]) for p in api.api("GET", "/publications").body["items"]}
    assert statuses == {("telegram", "cancelled"), ("vk", "scheduled")}
    aborted = [e for e in api.executions() if e["status"] == "ABORTED"]
    assert len(aborted) == 2
    assert "telegram" not in connections(api)
    assert api.api("DELETE", "/connections/telegram").status == 404
