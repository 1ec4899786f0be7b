"""Connecting and disconnecting platforms through the API, with moto and the emulators."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from autopost.domain.platforms import Platform
from autopost.infra import runtime
from autopost.infra.settings import get_settings
from autopost.storage.tables import records


@pytest.fixture
def api(harness, platforms):
    return harness


def authorize(api, platform="vk", user="user-1"):
    response = api.api("POST", f"/connections/{platform}/authorize", user=user)
    assert response.status == 200, response.body
    return response.body["authorizeUrl"]


def approve(url, deny=False):
    """The user presses «Разрешить» (or «Отмена») on VK's page; VK redirects the browser
    back to the console, which reads what came back (query or fragment)."""
    page = httpx.get(url)
    assert "Разрешить" in page.text
    answer = httpx.get(url.replace("/authorize?", "/authorize/approve?") + ("&deny=1" if deny else ""))
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    returned = {k: v[0] for k, v in parse_qs(location.fragment or location.query).items()}
    return f"{location.scheme}://{location.netloc}{location.path}", returned


def complete(api, returned, platform="vk", user="user-1"):
    """What the console sends, with the signed-in user's own token."""
    body = {"state": returned.get("state", "")}
    for key, name in (
        ("code", "code"),
        ("device_id", "deviceId"),
        ("access_token", "accessToken"),
        ("error", "error"),
    ):
        if key in returned:
            body[name] = returned[key]
    if "expires_in" in returned:
        body["expiresIn"] = int(returned["expires_in"])
    return api.api("POST", f"/connections/{platform}/complete", body=body, user=user)


def connections(api, user="user-1"):
    return {c["platform"]: c for c in api.api("GET", "/connections", user=user).body["items"]}


def test_platforms_lists_limits_plan_and_connection(api):
    items = {p["platform"]: p for p in api.api("GET", "/platforms", plan="free").body["items"]}
    assert set(items) == {"vk", "rutube", "telegram", "dzen"}
    assert {k for k, p in items.items() if p["allowedByPlan"]} == {"vk", "telegram"}
    # Where a platform is not on the caller's plan, the plans that have it can be named.
    assert items["rutube"]["plans"] == ["business", "pro"]
    assert items["vk"]["plans"] == ["business", "free", "pro"]
    assert not any(p["connected"] for p in items.values())
    assert items["telegram"]["limits"] == {
        "maxBytes": 50 * 1024 * 1024,
        "maxDurationSeconds": None,
        "verified": True,
    }
    assert items["telegram"]["statsAvailable"] is False
    assert {k: p["connectMethod"] for k, p in items.items()} == {
        "vk": "oauth",
        "rutube": "form",
        "telegram": "form",
        "dzen": "session",
    }
    assert "Неофициальный способ" in items["dzen"]["notice"]
    # VK: the session (clips, unofficial, said so before connecting) first, then VK ID.
    session, oauth = items["vk"]["connectMethods"]
    assert (session["method"], session["official"], oauth["method"], oauth["official"]) == (
        "session",
        False,
        "oauth",
        True,
    )
    assert "Неофициальный способ" in session["notice"] and "не пароль" in session["notice"]
    assert "обычные видео" in oauth["notice"]


def test_vk_id_connects_through_the_platforms_page_and_the_console(api, platforms):
    url = authorize(api)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [get_settings().console_url]

    back_to, returned = approve(url)
    assert back_to == get_settings().console_url
    response = complete(api, returned)

    assert response.status == 201, response.body
    assert (response.body["accountId"], response.body["accountName"]) == ("1001", "Иван Петров")
    assert response.body["refreshable"] is True and response.body["warning"] is None
    connection = connections(api)["vk"]
    assert connection["status"] == "active"
    stored = records(get_settings()).connection.get("user-1", "vk")
    assert stored.tokens.as_dict()["access"] not in set(platforms.vk.tokens)
    assert stored.tokens.as_dict()["access"].startswith("v1.")
    listed = {p["platform"]: p for p in api.api("GET", "/platforms").body["items"]}
    assert listed["vk"]["connected"] is True


def test_the_legacy_implicit_flow_connects_with_the_token_from_the_fragment(api, platforms, monkeypatch):
    monkeypatch.setenv("VK_AUTH_FLOW", "implicit")
    runtime.reset()
    url = authorize(api)
    assert parse_qs(urlsplit(url).query)["response_type"] == ["token"]
    _, returned = approve(url)
    assert "access_token" in returned  # from the fragment, which no server saw

    response = complete(api, returned)

    assert response.status == 201, response.body
    assert response.body["refreshable"] is False
    assert response.body["warning"] == "Токен VK истекает — переподключите"
    stored = records(get_settings()).connection.get("user-1", "vk")
    assert "refresh" not in stored.tokens.as_dict()


def test_a_lapsed_legacy_token_shows_expired_and_blocks_publishing(api, platforms, monkeypatch):
    monkeypatch.setenv("VK_AUTH_FLOW", "implicit")
    runtime.reset()
    _, returned = approve(authorize(api))
    assert complete(api, {**returned, "expires_in": "86400"}).status == 201
    api.ready_clip()
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    too_late = api.api(
        "POST", "/clips/clip-1/publications", body={"platforms": ["vk"], "title": "t", "scheduledAt": later}
    )
    assert too_late.status == 422
    assert too_late.body["error"]["code"] == "TOKEN_EXPIRES_BEFORE_PUBLICATION"

    connection = records(get_settings()).connection.get("user-1", "vk")
    connection.update(
        actions=[
            records(get_settings()).connection.expires_at.set(
                (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
            )
        ]
    )
    listed = connections(api)["vk"]
    assert (listed["status"], listed["warning"]) == ("expired", "Токен истёк, переподключите платформу")
    now = api.api("POST", "/clips/clip-1/publications", body={"platforms": ["vk"], "title": "t"})
    assert now.status == 422
    assert now.body["error"] == {
        "code": "CONNECTION_EXPIRED",
        "message": "Токен истёк, переподключите платформу",
        "details": {
            "platforms": {
                "vk": {"code": "CONNECTION_EXPIRED", "message": "Токен истёк, переподключите платформу"}
            }
        },
    }


def test_a_state_is_single_use(api):
    _, returned = approve(authorize(api))
    assert complete(api, returned).status == 201
    api.api("DELETE", "/connections/vk")
    replay = complete(api, returned)
    assert replay.status == 400
    assert replay.body["error"]["details"] == {"reason": "unknown_or_used"}
    assert connections(api) == {}


def test_an_expired_state_is_refused(api):
    _, returned = approve(authorize(api))
    control = records(get_settings()).control
    item = control.get(f"oauth#{returned['state']}")
    item.update(actions=[control.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])
    response = complete(api, returned)
    assert response.status == 400
    assert response.body["error"]["details"] == {"reason": "expired"}
    assert connections(api) == {}


def test_a_state_completed_for_another_platform_is_refused(api):
    _, returned = approve(authorize(api))
    response = complete(api, returned, platform="dzen")
    assert response.status == 422  # Дзен has no OAuth at all
    assert response.body["error"]["code"] == "OAUTH_NOT_SUPPORTED"
    assert connections(api) == {}


def test_a_link_started_by_another_user_cannot_connect_the_victims_account(api):
    """The attacker starts VK on their own account and sends the link; the victim opens it
    and VK sends them back. Their console completes with the victim's token: refused, and
    the attacker's own state cannot be completed by the victim either."""
    _, returned = approve(authorize(api, user="attacker"))
    response = complete(api, returned, user="victim")
    assert response.status == 400
    assert response.body["error"]["details"] == {"reason": "other_user"}
    assert connections(api, "victim") == {}
    assert connections(api, "attacker") == {}


def test_a_forged_state_is_refused(api):
    _, returned = approve(authorize(api))
    response = complete(api, {**returned, "state": "forged-" + returned["state"][7:]})
    assert response.status == 400
    assert connections(api) == {}


def test_the_user_cancelling_at_the_platform_stores_nothing(api):
    _, returned = approve(authorize(api), deny=True)
    assert returned["error"] == "access_denied"
    response = complete(api, returned)
    assert response.status == 400
    assert connections(api) == {}


def test_no_route_of_the_template_touches_connections_without_the_authorizer():
    """In AWS, a route with `Authorizer: NONE` gets no claims: nothing but the OpenAPI
    document may be served that way (the OAuth completion needs the user's token)."""
    from devstack.template import load_template

    events = load_template()["Resources"]["ApiFunction"]["Properties"]["Events"]
    open_routes = {
        e["Properties"]["Path"]
        for e in events.values()
        if (e["Properties"].get("Auth") or {}).get("Authorizer") == "NONE"
    }
    # The webhook checks Telegram's secret token itself (test_the_webhook_refuses_…).
    assert open_routes == {"/openapi.json", "/telegram/webhook"}
    paths = {e["Properties"]["Path"] for e in events.values()}
    assert "/connections/{platform}/complete" in paths
    assert not any(path.startswith("/oauth/") for path in paths)


def test_oauth_is_only_for_vk(api):
    for platform in ("telegram", "dzen", "rutube"):
        response = api.api("POST", f"/connections/{platform}/authorize")
        assert response.status == 422
        assert response.body["error"]["code"] == "OAUTH_NOT_SUPPORTED"


def test_vk_destination_a_community_the_user_edits(api, platforms):
    _, returned = approve(authorize(api))
    assert complete(api, returned).status == 201
    listed = api.api("GET", "/connections/vk/destinations")
    assert listed.body == {"items": [{"communityId": 2001, "name": "Клипы о закатах"}], "current": None}

    chosen = api.api("PUT", "/connections/vk/destination", body={"communityId": 2001})
    assert chosen.status == 200
    assert chosen.body["destination"] == {"communityId": 2001, "name": "Клипы о закатах"}
    refused = api.api("PUT", "/connections/vk/destination", body={"communityId": 999})
    assert refused.status == 422
    assert "администратор или редактор" in refused.body["error"]["message"]
    # Reconnecting the same account keeps the choice.
    _, again = approve(authorize(api))
    assert complete(api, again).body["destination"] == {"communityId": 2001, "name": "Клипы о закатах"}
    back = api.api("PUT", "/connections/vk/destination", body={"communityId": None})
    assert back.body["destination"] is None


def test_telegram_with_the_users_own_bot(api, platforms):
    bot = platforms.telegram.add_bot()
    chat_id = platforms.telegram.add_channel("clips_channel", "Клипы", admin_bots=(bot,))
    response = api.api("POST", "/connections/telegram", body={"channel": "@clips_channel", "botToken": bot})
    assert response.status == 201, response.body
    assert response.body["accountName"] == "Клипы"
    assert response.body["accountId"] == str(chat_id)
    assert "botToken" not in str(api.api("GET", "/connections").body)
    assert bot not in str(api.api("GET", "/connections").body)


WEBHOOK_SECRET = "webhook-secret-" + "s" * 30


@pytest.fixture
def service_bot(api, platforms, monkeypatch):
    bot = platforms.telegram.add_bot("service_bot")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", bot)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET)
    runtime.reset()
    return bot


def telegram_says(api, update, secret=WEBHOOK_SECRET):
    """What Telegram sends our webhook for a post the service bot sees."""
    headers = {"x-telegram-bot-api-secret-token": secret} if secret else {}
    return api.api("POST", "/telegram/webhook", body=update, user=None, headers=headers)


def test_telegram_through_the_services_bot_needs_a_posted_code(api, platforms, service_bot):
    platforms.telegram.add_channel("svc_channel", "Канал сервиса", admin_bots=(service_bot,))
    started = api.api("POST", "/connections/telegram/proof", body={"channel": "@svc_channel"})
    assert started.status == 202, started.body
    code = started.body["code"]
    assert code in started.body["instructions"]
    assert "Канал сервиса" not in str(started.body)  # nothing about the channel before the proof
    assert connections(api) == {}

    post = platforms.telegram.post_in_channel("@svc_channel", f"Подтверждаю: {code}")
    assert telegram_says(api, post).status == 200

    connection = connections(api)["telegram"]
    assert (connection["status"], connection["accountName"]) == ("active", "Канал сервиса")
    stored = records(get_settings()).connection.get("user-1", "telegram")
    assert stored.extra.as_dict()["service_bot"] == "1"
    assert platforms.telegram.deleted == [
        (post["channel_post"]["chat"]["id"], post["channel_post"]["message_id"])
    ]
    # The code counts once.
    api.api("DELETE", "/connections/telegram")
    assert telegram_says(api, post).status == 200
    assert connections(api) == {}


def test_another_customers_channel_cannot_be_taken_through_the_services_bot(api, platforms, service_bot):
    """The attack: the service bot administers someone else's channel; knowing its name is
    not enough, and the owner's channel stays theirs alone."""
    platforms.telegram.add_channel("victims_channel", "Чужой канал", admin_bots=(service_bot,))
    owner = api.api("POST", "/connections/telegram/proof", body={"channel": "@victims_channel"}, user="owner")
    telegram_says(api, platforms.telegram.post_in_channel("@victims_channel", owner.body["code"]))
    assert connections(api, "owner")["telegram"]["status"] == "active"

    attempt = api.api(
        "POST", "/connections/telegram/proof", body={"channel": "@victims_channel"}, user="attacker"
    )
    assert attempt.status == 409
    assert attempt.body["error"]["code"] == "CHANNEL_TAKEN"
    assert connections(api, "attacker") == {}


def test_a_code_posted_in_another_channel_does_not_connect_either(api, platforms, service_bot):
    platforms.telegram.add_channel("wanted_channel", admin_bots=(service_bot,))
    platforms.telegram.add_channel("attackers_channel", admin_bots=(service_bot,))
    code = api.api("POST", "/connections/telegram/proof", body={"channel": "@wanted_channel"}).body["code"]
    telegram_says(api, platforms.telegram.post_in_channel("@attackers_channel", code))
    assert connections(api) == {}


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_the_webhook_refuses_what_did_not_come_from_telegram(api, platforms, service_bot, secret):
    platforms.telegram.add_channel("svc_channel", admin_bots=(service_bot,))
    code = api.api("POST", "/connections/telegram/proof", body={"channel": "@svc_channel"}).body["code"]
    forged = platforms.telegram.post_in_channel("@svc_channel", code)
    assert telegram_says(api, forged, secret=secret).status == 401
    assert connections(api) == {}


def test_a_channel_with_someones_own_bot_is_theirs_alone(api, platforms):
    bot = platforms.telegram.add_bot()
    platforms.telegram.add_channel("own_channel", admin_bots=(bot,))
    body = {"channel": "@own_channel", "botToken": bot}
    assert api.api("POST", "/connections/telegram", body=body, user="first").status == 201
    second = api.api("POST", "/connections/telegram", body=body, user="second")
    assert second.status == 409
    assert api.api("DELETE", "/connections/telegram", user="first").status == 200
    assert api.api("POST", "/connections/telegram", body=body, user="second").status == 201


def test_the_services_bot_not_configured_says_so(api, platforms):
    response = api.api("POST", "/connections/telegram/proof", body={"channel": "@svc_channel"})
    assert response.status == 422
    assert "Бот сервиса не настроен" in response.body["error"]["message"]


def test_telegram_a_bot_that_cannot_post_is_refused_with_a_reason(api, platforms):
    bot = platforms.telegram.add_bot()
    platforms.telegram.add_channel("closed_channel")
    response = api.api("POST", "/connections/telegram", body={"channel": "@closed_channel", "botToken": bot})
    assert response.status == 422
    assert response.body["error"]["code"] == "TELEGRAM_NO_POST_RIGHTS"
    assert "администратором" in response.body["error"]["message"]
    assert connections(api) == {}


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "no-at-sign"},
        {"channel": "@ok_channel", "botToken": "not-a-token"},
        {"channel": "@ok_channel", "extra": 1},
        {"channel": "@ok_channel"},
    ],
)
def test_telegram_malformed_input_is_422(api, body):
    assert api.api("POST", "/connections/telegram", body=body).status == 422


def test_rutube_with_a_token_checked_by_a_real_call(api, platforms):
    token = platforms.rutube.issue_token(user_id=808)
    response = api.api("POST", "/connections/rutube", body={"token": token})
    assert response.status == 201, response.body
    assert len(platforms.rutube.calls_to("person")) == 1


def test_rutube_with_login_and_password_exchanged_once(api, platforms):
    from emulators.rutube import DEMO_LOGIN, DEMO_PASSWORD

    response = api.api("POST", "/connections/rutube", body={"login": DEMO_LOGIN, "password": DEMO_PASSWORD})
    assert response.status == 201, response.body
    assert response.body["accountName"] == DEMO_LOGIN
    stored = records(get_settings()).connection.get("user-1", "rutube")
    assert DEMO_PASSWORD not in str(stored.attribute_values)
    wrong = api.api("POST", "/connections/rutube", body={"login": DEMO_LOGIN, "password": "nope"})
    assert wrong.status == 422
    assert "VK ID" in wrong.body["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [{}, {"login": "a@b.c"}, {"token": "0" * 40, "login": "a@b.c", "password": "p"}, {"password": "p"}],
)
def test_rutube_takes_a_token_or_a_login_and_password(api, body):
    assert api.api("POST", "/connections/rutube", body=body).status == 422


def test_rutube_a_wrong_token_is_422_and_an_outage_503(api, platforms):
    wrong = api.api("POST", "/connections/rutube", body={"token": "0" * 40})
    assert wrong.status == 422
    platforms.rutube.inject("person", "http_500")
    down = api.api("POST", "/connections/rutube", body={"token": platforms.rutube.issue_token()})
    assert down.status == 503
    assert down.body["error"]["code"] == "PLATFORM_UNAVAILABLE"
    assert connections(api) == {}


def test_dzen_with_the_studio_session(api, platforms):
    cookies = platforms.dzen.issue_session("0123456789abcdef01234567", "Закаты")
    response = api.api("POST", "/connections/dzen", body={"session": cookies})
    assert response.status == 201, response.body
    assert (response.body["accountId"], response.body["accountName"]) == (
        "0123456789abcdef01234567",
        "Закаты",
    )
    stored = records(get_settings()).connection.get("user-1", "dzen")
    assert cookies not in str(stored.attribute_values)
    assert stored.tokens.as_dict()["access"].startswith("v1.")


def test_vk_connects_through_the_session_keeping_only_its_cookie(api, platforms):
    cookies = platforms.vk.issue_session(1001)
    response = api.api("POST", "/connections/vk/session", body={"session": cookies})
    assert response.status == 201, response.body
    assert (response.body["accountId"], response.body["method"]) == ("1001", "session")
    stored = records(get_settings()).connection.get("user-1", "vk")
    assert "remixnsid" not in str(stored.attribute_values)  # encrypted
    (minted,) = platforms.vk.calls_to("web_token")
    assert minted["cookies"] == ["remixnsid"]  # the analytics and language cookies were dropped


def test_vk_a_session_without_its_cookie_or_one_vk_ended_is_refused_in_words(api, platforms):
    missing = api.api(
        "POST", "/connections/vk/session", body={"session": "remixlang=0; tmr_lvid=abcdef0123456789"}
    )
    assert missing.status == 422
    assert missing.body["error"]["code"] == "VK_SESSION_INVALID"
    cookies = platforms.vk.issue_session()
    platforms.vk.end_session(cookies)
    ended = api.api("POST", "/connections/vk/session", body={"session": cookies})
    assert ended.status == 422
    assert ended.body["error"] == {
        "code": "VK_SESSION_EXPIRED",
        "message": "Сессия VK истекла, подключите VK заново",
        "details": {},
    }


def test_vk_id_without_the_video_right_is_refused_with_what_to_do(api, platforms):
    platforms.vk.app_rights = frozenset({"groups"})
    _, returned = approve(authorize(api))
    response = complete(api, returned)
    assert response.status == 422
    assert response.body["error"]["code"] == "VK_NO_VIDEO_RIGHTS"
    assert "через сессию VK" in response.body["error"]["message"]
    assert "vk" not in connections(api)


def test_vk_refusing_the_app_the_legacy_flow_has_its_own_code(api, platforms, monkeypatch):
    """Should VK send the browser back with its "Security Error" (it usually shows it on
    its own page: `make live-check` finds that), the user reads what to do."""
    monkeypatch.setenv("VK_AUTH_FLOW", "implicit")
    runtime.reset()
    state = parse_qs(urlsplit(authorize(api)).query)["state"][0]
    refused = complete(api, {"state": state, "error": "invalid_request: Security Error"})
    assert refused.status == 422
    assert refused.body["error"]["code"] == "VK_APP_REFUSED"
    assert "через сессию VK" in refused.body["error"]["message"]


def test_dzen_a_dead_session_says_so(api, platforms):
    cookies = platforms.dzen.issue_session()
    platforms.dzen.end_session(cookies)
    response = api.api("POST", "/connections/dzen", body={"session": cookies})
    assert response.status == 422
    assert response.body["error"]["message"] == "Платформа не приняла токен: проверьте его и попробуйте снова"


def test_connecting_is_limited_to_5_an_hour(api):
    statuses = [api.api("POST", "/connections/rutube", body={"token": "0" * 40}).status for _ in range(6)]
    assert statuses == [422] * 5 + [429]
    limited = api.api("POST", "/connections/vk/authorize")
    assert limited.status == 429
    # The sliding window counts the last hour's five as spread over it: one more fits once
    # a fifth of them has slid out, at most an hour and a fifth from now.
    assert 1 <= int(limited.headers["Retry-After"]) <= 3600 * 6 // 5


def test_only_a_credential_the_platform_refuses_uses_up_a_connect_attempt(api, platforms):
    """A mistake the user can fix, an outage and a success cost none of the five; a refused
    token does, and the platforms list says how many are left."""

    def left():
        return api.api("GET", "/platforms").body["connectAttempts"]

    assert left() == {"left": 5, "limit": 5}
    fixable = not_an_administrator(platforms)
    for _ in range(6):  # the bot is fine, the channel is not set up yet: the user can fix it
        assert api.api("POST", "/connections/telegram", body=fixable).status == 422
    platforms.rutube.inject("person", "http_500", times=6)
    for _ in range(6):  # Rutube down: our side of the line, not the user's
        assert (
            api.api("POST", "/connections/rutube", body={"token": platforms.rutube.issue_token()}).status
            == 503
        )
    token = platforms.rutube.issue_token()
    assert api.api("POST", "/connections/rutube", body={"token": token}).status == 201
    assert api.api("DELETE", "/connections/rutube").status == 200
    assert api.api("POST", "/connections/rutube", body={"token": token}).status == 201
    assert left() == {"left": 5, "limit": 5}

    assert api.api("POST", "/connections/rutube", body={"token": "0" * 40}).status == 422
    assert left() == {"left": 4, "limit": 5}


def not_an_administrator(platforms) -> dict[str, str]:
    bot = platforms.telegram.add_bot()
    platforms.telegram.add_channel("not_yet_set_up")
    return {"channel": "@not_yet_set_up", "botToken": bot}


def test_every_connect_attempt_counts_toward_a_budget_six_times_larger(api, platforms):
    """Fixable mistakes cost nothing of the five, but are not free without end: 30 an hour."""
    fixable = not_an_administrator(platforms)
    statuses = [api.api("POST", "/connections/telegram", body=fixable).status for _ in range(31)]
    assert statuses == [422] * 30 + [429]
    assert api.api("GET", "/platforms").body["connectAttempts"]["left"] == 0


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


def test_the_console_at_another_of_its_addresses_gets_the_user_back_there(api, platforms, monkeypatch):
    monkeypatch.setenv("CONSOLE_URL_ALIASES", "http://localhost:3000/console/")
    runtime.reset()
    started = api.api(
        "POST", "/connections/vk/authorize", body={"redirectUri": "http://localhost:3000/console/"}
    )
    assert parse_qs(urlsplit(started.body["authorizeUrl"]).query)["redirect_uri"] == [
        "http://localhost:3000/console/"
    ]
    back_to, returned = approve(started.body["authorizeUrl"])
    assert back_to == "http://localhost:3000/console/"
    assert complete(api, returned).status == 201  # VK ID checks the same address on the exchange


def test_a_return_address_that_is_not_the_consoles_is_refused(api):
    response = api.api(
        "POST", "/connections/vk/authorize", body={"redirectUri": "https://evil.example/steal"}
    )
    assert response.status == 422
    assert response.body["error"]["details"] == {"field": "redirectUri"}


def prove(api, platforms, channel, user="user-1"):
    code = api.api("POST", "/connections/telegram/proof", body={"channel": channel}, user=user).body["code"]
    assert telegram_says(api, platforms.telegram.post_in_channel(channel, code)).status == 200


def test_reconnecting_a_proven_channel_with_ones_own_bot_stops_the_services_bot(api, platforms, service_bot):
    """Reconnecting is a new grant: nothing of the old one stays, so posts go through the
    user's own bot from then on, not the service's."""
    own = platforms.telegram.add_bot()
    platforms.telegram.add_channel("both_channel", admin_bots=(service_bot, own))
    prove(api, platforms, "@both_channel")
    stored = records(get_settings()).connection.get("user-1", "telegram")
    assert stored.extra.as_dict()["service_bot"] == "1"

    response = api.api("POST", "/connections/telegram", body={"channel": "@both_channel", "botToken": own})
    assert response.status == 201, response.body
    stored = records(get_settings()).connection.get("user-1", "telegram")
    assert "service_bot" not in stored.extra.as_dict()


def test_moving_to_another_channel_releases_the_first_for_its_owner(api, platforms):
    first_bot, second_bot, owners_bot = (platforms.telegram.add_bot() for _ in range(3))
    platforms.telegram.add_channel("left_channel", admin_bots=(first_bot, owners_bot))
    platforms.telegram.add_channel("new_channel", admin_bots=(second_bot,))
    body = {"channel": "@left_channel", "botToken": first_bot}
    assert api.api("POST", "/connections/telegram", body=body).status == 201
    body = {"channel": "@new_channel", "botToken": second_bot}
    assert api.api("POST", "/connections/telegram", body=body).status == 201

    body = {"channel": "@left_channel", "botToken": owners_bot}
    taken = api.api("POST", "/connections/telegram", body=body, user="owner")
    assert taken.status == 201, taken.body


def test_a_claim_left_by_a_user_who_moved_on_passes_to_the_channels_owner(api, platforms, service_bot):
    """Claims made before reconnects released them: the holder no longer posts there, so a
    proof by the channel's owner takes it (a live holder's claim is still refused above)."""
    from autopost.storage.channel_claims import ChannelClaims

    chat_id = platforms.telegram.add_channel("stale_channel", admin_bots=(service_bot,))
    assert ChannelClaims(get_settings()).claim(str(chat_id), "someone-long-gone")
    started = api.api("POST", "/connections/telegram/proof", body={"channel": "@stale_channel"}, user="owner")
    assert started.status == 202, started.body
    prove(api, platforms, "@stale_channel", user="owner")
    assert connections(api, "owner")["telegram"]["status"] == "active"
    assert ChannelClaims(get_settings()).holder(str(chat_id)) == "owner"


def test_the_migration_expires_service_bot_channels_never_proven(api, platforms, service_bot):
    from pydantic import SecretStr

    from autopost.domain.models import Account, Credentials
    from autopost.infra.secrets import token_cipher
    from autopost.maintenance.migrations import expire_unproven_telegram_channels
    from autopost.storage.connections import ConnectionRepository

    platforms.telegram.add_channel("proven_channel", admin_bots=(service_bot,))
    prove(api, platforms, "@proven_channel", user="honest")
    # A row from before proofs: the service bot, no claim (anyone could name any channel).
    chat_id = platforms.telegram.add_channel("named_channel", admin_bots=(service_bot,))
    extra = {"channel": "@named_channel", "chat_id": str(chat_id), "service_bot": "1"}
    ConnectionRepository(get_settings(), token_cipher()).connect(
        "early",
        Platform.TELEGRAM,
        Account(str(chat_id), "Канал", extra),
        Credentials(SecretStr(""), extra=extra),
    )

    report = expire_unproven_telegram_channels(get_settings(), page_size=1)
    assert (report.checked, report.proven, report.expired) == (2, 1, 1)
    assert connections(api, "early")["telegram"]["status"] == "expired"
    assert connections(api, "honest")["telegram"]["status"] == "active"
    again = expire_unproven_telegram_channels(get_settings())
    assert again.expired == 0
