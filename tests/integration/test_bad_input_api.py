"""Bad input gets a 4xx with a machine code and a Russian message, never a 500."""

import base64
import json

import pytest

from autopost.domain.platforms import Platform


@pytest.fixture
def ready(harness):
    harness.ready_clip()
    harness.connect("user-1", *Platform)
    return harness


def assert_error(response, status, code):
    assert response.status == status, response.body
    error = response.body["error"]
    assert error["code"] == code
    assert any("а" <= ch <= "я" for ch in error["message"].lower()), error["message"]
    return error


@pytest.mark.parametrize("raw", ["{", "not json", '{"platforms": ["vk"], "title": "x",}', "\x00"])
def test_malformed_json(ready, raw):
    assert_error(ready.api("POST", "/clips/clip-1/publications", raw_body=raw), 422, "MALFORMED_JSON")


@pytest.mark.parametrize(
    ("payload", "field", "kind"),
    [
        ({"platforms": ["myspace"], "title": "x"}, "platforms.0", "enum"),
        ({"platforms": "vk", "title": "x"}, "platforms", "list_type"),
        ({"platforms": [], "title": "x"}, "platforms", "too_short"),
        ({"platforms": ["vk", "vk"], "title": "x"}, "platforms", "duplicate_platforms"),
        ({"platforms": ["vk"], "title": "x", "scheduledAt": 12345}, "scheduledAt", "datetime_type"),
        ({"platforms": ["vk"]}, "title", "missing"),
        ({"platforms": ["vk"], "title": "   "}, "title", "string_too_short"),
        ({"platforms": ["vk"], "title": 42}, "title", "string_type"),
        ({"platforms": ["vk"], "title": "x" * 201}, "title", "string_too_long"),
        ({"platforms": ["vk"], "title": "x", "owner": "admin"}, "owner", "extra_forbidden"),
        ([1, 2, 3], "", "model_attributes_type"),
    ],
)
def test_wrong_shapes_name_the_field(ready, payload, field, kind):
    error = assert_error(
        ready.api("POST", "/clips/clip-1/publications", body=payload), 422, "VALIDATION_ERROR"
    )
    problems = {(p["field"], p["type"]) for p in error["details"]["fields"]}
    assert (field, kind) in problems
    assert all(p["message"] for p in error["details"]["fields"])


def test_unknown_platform_lists_the_allowed_ones(ready):
    error = assert_error(
        ready.api("POST", "/clips/clip-1/publications", body={"platforms": ["tiktok"], "title": "x"}),
        422,
        "VALIDATION_ERROR",
    )
    (problem,) = error["details"]["fields"]
    for name in ("vk", "rutube", "telegram", "dzen"):
        assert name in problem["message"]
    assert " or " not in problem["message"]  # all Russian, no English left in the words


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"platforms": ["vk", "vk"], "title": "x"}, "Платформы не должны повторяться"),
        ({"platforms": [], "title": "x"}, "Список не может быть пустым"),
        (
            {"platforms": ["vk"], "title": "x", "scheduledAt": 12345},
            "Ожидается дата и время в формате ISO 8601",
        ),
    ],
)
def test_each_field_problem_says_what_is_wrong_in_russian(ready, payload, message):
    error = assert_error(
        ready.api("POST", "/clips/clip-1/publications", body=payload), 422, "VALIDATION_ERROR"
    )
    assert [p["message"] for p in error["details"]["fields"]] == [message]


def test_a_too_short_token_is_not_called_a_list(ready):
    error = assert_error(
        ready.api("POST", "/connections/rutube", body={"token": "short"}), 422, "VALIDATION_ERROR"
    )
    assert [p["message"] for p in error["details"]["fields"]] == ["Слишком короткое значение"]


def test_a_huge_body_is_413(ready):
    payload = {"platforms": ["vk"], "title": "x", "description": "я" * 100_000}
    error = assert_error(
        ready.api("POST", "/clips/clip-1/publications", body=payload), 413, "PAYLOAD_TOO_LARGE"
    )
    assert error["details"] == {"maxBytes": 65536}


def test_a_base64_body_is_read(ready):
    response = ready.api(
        "POST", "/clips/clip-1/publications", body={"platforms": ["vk"], "title": "x"}, base64_body=True
    )
    assert response.status == 201


def test_no_claims_is_401(ready):
    assert_error(ready.api("GET", "/publications", user=None), 401, "UNAUTHORIZED")


def test_unknown_route_is_404(ready):
    assert_error(ready.api("GET", "/nothing-here"), 404, "ROUTE_NOT_FOUND")


def test_error_bodies_have_one_shape(ready):
    response = ready.api("GET", "/publications/none")
    assert set(response.body) == {"error"}
    assert set(response.body["error"]) == {"code", "message", "details"}
    assert json.loads(json.dumps(response.body)) == response.body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/clips/clip-1/publications"),
        ("POST", "/connections/telegram"),
        ("POST", "/connections/rutube"),
        ("POST", "/connections/dzen"),
        ("POST", "/connections/vk/session"),
        ("POST", "/connections/vk/complete"),
    ],
)
def test_a_body_that_is_not_utf8_is_400(ready, method, path):
    """API Gateway passes such a body base64-encoded (as `printf '\\xff'` sends it)."""
    event_body = base64.b64encode(b'{"title": "\xff"}').decode()
    response = ready.api(method, path, raw_body=event_body, base64_already=True)
    assert_error(response, 400, "MALFORMED_BODY")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Закат\x00"),
        ("title", "Закат\nвторая строка"),
        ("title", "\x1b[31mкрасный"),
        ("description", "текст\x00"),
        ("description", "текст\u202eвспять"),
        ("description", "\x07звонок"),
    ],
)
def test_control_characters_are_refused_with_the_field_named(ready, field, value):
    payload = {"platforms": ["vk"], "title": "Закат", field: value}
    error = assert_error(
        ready.api("POST", "/clips/clip-1/publications", body=payload), 422, "VALIDATION_ERROR"
    )
    assert (field, "control_characters") in {(p["field"], p["type"]) for p in error["details"]["fields"]}
    assert ready.api("GET", "/publications").body["items"] == []


def test_line_breaks_and_tabs_stay_allowed_in_a_description(ready):
    payload = {"platforms": ["vk"], "title": "Закат", "description": "строка 1\nстрока 2\r\n\tотступ"}
    response = ready.api("POST", "/clips/clip-1/publications", body=payload)
    assert response.status == 201, response.body
    assert response.body["items"][0]["description"] == "строка 1\nстрока 2\r\n\tотступ"


@pytest.mark.parametrize("path", ["/publications", "/clips"])
def test_a_forged_cursor_is_400_not_a_server_error(ready, path):
    forged = {"publication_id": {"S": "x"}, "user_id": {"S": "user-1"}, "created_at": {"N": "1"}}
    cursor = base64.urlsafe_b64encode(json.dumps({"o": "user-1", "k": forged}).encode()).decode().rstrip("=")
    assert_error(ready.api("GET", path, query={"cursor": cursor}), 400, "INVALID_CURSOR")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_a_body_that_is_not_json_is_415(ready, content_type):
    payload = json.dumps({"platforms": ["vk"], "title": "x"})
    response = ready.api(
        "POST", "/clips/clip-1/publications", raw_body=payload, headers={"content-type": content_type}
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/connections/rutube", {"token": "токен-не-из-ascii-символов"}, "token"),
        ("/connections/rutube", {"token": "abcdefghijklmnop\U0009188d"}, "token"),
        ("/connections/dzen", {"session": "Session_id=3:1700000000.5.0.тест"}, "session"),
        ("/connections/vk/session", {"session": "remixnsid=3:1700000000.5.0.тест"}, "session"),
    ],
)
def test_a_credential_that_cannot_travel_in_a_header_is_422_not_500(ready, path, body, field):
    """Found by schemathesis: a non-ASCII Rutube token reached httpx's header encoding."""
    answer = ready.api("POST", path, body=body)
    assert answer.status == 422, answer.body
    (problem,) = answer.body["error"]["details"]["fields"]
    assert (problem["field"], problem["type"]) == (field, "ascii_credential")
    assert problem["message"] == "Допустимы только латинские буквы, цифры и знаки ASCII"
