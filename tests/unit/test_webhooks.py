"""Webhooks without AWS: Standard Webhooks signatures, the refusal of internal addresses
(SSRF), redirects not followed, one budget per delivery against a slow receiver, DNS lookups
that hang, and the retry schedule and timeouts against the template."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook, WebhookVerificationError

from autopost.domain.errors import WebhookUrlInvalid
from autopost.domain.webhooks import Endpoint
from autopost.infra.settings import Settings
from autopost.infra.webhook_signing import new_secret, signed_headers
from autopost.infra.webhook_targets import Sender, Unresolvable, check_registration, is_internal, resolve
from autopost.webhooks.dispatch import (
    MAX_DELAY_SECONDS,
    MAX_HIDE_SECONDS,
    RESERVE_SECONDS,
    WebhookDispatcher,
    payload_of,
)
from devstack.template import ROOT, load_template
from tests.support.https_receiver import Trickle, https_receiver

BODY = '{"type":"publication.published","timestamp":"2026-11-30T12:00:00.000Z","data":{"status":"published"}}'


def settings(**values: str) -> Settings:
    return Settings(
        CLIPS_TABLE="c",
        PUBLICATIONS_TABLE="p",
        CONNECTIONS_TABLE="n",
        CONTROL_TABLE="x",
        CLIPS_BUCKET="b",
        **values,
    )


# -- signatures ------------------------------------------------------------------------------


def test_a_secret_is_whsec_and_32_random_bytes():
    first, second = new_secret().get_secret_value(), new_secret().get_secret_value()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_the_signature_verifies_with_the_reference_library_and_by_hand():
    secret = new_secret()
    headers = signed_headers(secret, "evt_123", BODY)

    assert Webhook(secret.get_secret_value()).verify(BODY, headers)["type"] == "publication.published"
    # The spec's scheme written out: HMAC-SHA256 over "{id}.{timestamp}.{body}", "v1," + base64.
    key = base64.b64decode(secret.get_secret_value().removeprefix("whsec_"))
    signed = f"evt_123.{headers['webhook-timestamp']}.{BODY}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert headers["webhook-id"] == "evt_123"


def test_another_body_secret_or_an_old_timestamp_does_not_verify():
    secret = new_secret()
    headers = signed_headers(secret, "evt_1", BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret.get_secret_value()).verify(BODY.replace("published", "failed"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret().get_secret_value()).verify(BODY, headers)
    stale = signed_headers(secret, "evt_1", BODY, at=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret.get_secret_value()).verify(BODY, stale)


def test_the_body_is_the_event_without_the_user():
    event = {
        "eventId": "evt_1",
        "type": "publication.failed",
        "at": "2026-11-30T12:00:00.000Z",
        "userId": "u",
    }
    body = json.loads(payload_of(event))
    assert body == {
        "type": "publication.failed",
        "timestamp": "2026-11-30T12:00:00.000Z",
        "data": {"eventId": "evt_1", "type": "publication.failed", "at": "2026-11-30T12:00:00.000Z"},
    }


# -- where a webhook may go (SSRF) -------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # the instance metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 - an address under test, not a bind
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        # 6to4 (2002::/16) carrying a loopback, private or metadata IPv4 address.
        "2002:7f00:1::1",
        "2002:a00:1::",
        "2002:a9fe:a9fe::1",
        # Teredo (2001::/32) whose client or server is not global (192.0.2.45, 127.0.0.1).
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:0:7f00:1:8000:63bf:3fff:fdd2",
    ],
)
def test_internal_addresses_are_refused(address):
    assert is_internal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "2002:5db8:d70e::1"])
def test_public_addresses_are_allowed(address):
    assert not is_internal(ipaddress.ip_address(address))


@pytest.fixture
def listener():
    """A plain TCP port on loopback that counts connections: a refused delivery makes none."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(connection)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join(2)
    server.close()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/hook",
        "https://localhost:{port}/hook",
        "https://10.0.0.1:{port}/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]:{port}/hook",
        "https://[::ffff:127.0.0.1]:{port}/hook",
        # Other spellings of 127.0.0.1 the resolver accepts.
        "https://0x7f000001:{port}/hook",
        "https://2130706433:{port}/hook",
        "https://127.1:{port}/hook",
    ],
)
def test_a_delivery_to_an_internal_address_is_refused_without_connecting(listener, url):
    port, accepted = listener
    sender = Sender(timeout=2.0)
    outcome = sender.post(url.format(port=port), signed_headers(new_secret(), "evt_1", BODY), BODY)
    assert not outcome.ok and outcome.status_code is None
    assert "внутреннюю сеть" in outcome.error
    assert accepted == []


def test_a_name_with_any_private_address_is_refused(monkeypatch, listener):
    port, accepted = listener
    real = socket.getaddrinfo

    def answers(host, *args, **kwargs):
        if host == "hooks.example.com":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
            ]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", answers)
    outcome = Sender(timeout=2.0).post(f"https://hooks.example.com:{port}/", {}, BODY)
    assert not outcome.ok and "внутреннюю сеть" in outcome.error
    assert accepted == []
    with pytest.raises(WebhookUrlInvalid):
        check_registration("https://hooks.example.com/", allow_private=False, timeout=2.0)


def test_the_request_goes_to_the_address_checked_not_a_second_lookup(monkeypatch):
    """DNS rebinding: the name is resolved once, and the connection is made to that address
    (TLS still checks the certificate against the name)."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def answers(host, port, *args, **kwargs):
        if host == "receiver.test":
            lookups.append(host)
            # A second lookup would get an address where nothing listens.
            address = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", answers)
    with https_receiver() as receiver:
        sender = Sender(timeout=5.0, allow_private=True, ca_file=str(receiver.ca_file))
        outcome = sender.post(receiver.url(host="receiver.test"), {"webhook-id": "evt_1"}, BODY)
        assert outcome.ok, outcome
        assert lookups == ["receiver.test"]
        (request,) = receiver.requests
        assert request.headers["Host"] == f"receiver.test:{receiver.port}"
        assert request.body == BODY.encode()


def test_an_untrusted_certificate_fails_the_delivery():
    with https_receiver() as receiver:
        # Self-signed, and its CA not given: not trusted.
        outcome = Sender(timeout=5.0, allow_private=True).post(receiver.url(), {}, BODY)
        assert not outcome.ok and outcome.error == "Сертификат получателя не прошёл проверку"
        assert receiver.requests == []


def test_a_certificate_for_another_name_fails_the_delivery(monkeypatch):
    """Connecting to the checked address keeps TLS checking the name the URL gave."""
    real = socket.getaddrinfo

    def answers(host, port, *args, **kwargs):
        if host == "other.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", answers)
    with https_receiver() as receiver:
        sender = Sender(timeout=5.0, allow_private=True, ca_file=str(receiver.ca_file))
        outcome = sender.post(receiver.url(host="other.test"), {}, BODY)
        assert not outcome.ok and outcome.error == "Сертификат получателя не прошёл проверку"
        assert receiver.requests == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "https://"),
        ("ftp://hooks.example.com/", "https://"),
        ("https://user:pass@hooks.example.com/", "логин"),
        ("https://127.0.0.1/hook", "внутреннюю сеть"),
        ("https://localhost/hook", "внутреннюю сеть"),
        ("https://10.0.0.1/hook", "внутреннюю сеть"),
        ("https://[::1]/hook", "внутреннюю сеть"),
        ("https://169.254.169.254/", "внутреннюю сеть"),
        ("https://0x7f000001/", "внутреннюю сеть"),
        ("https://127.1/", "внутреннюю сеть"),
        ("https://[2002:7f00:1::1]/", "внутреннюю сеть"),
        ("https://[2002:a9fe:a9fe::1]:8443/", "внутреннюю сеть"),
        ("not a url", "https://"),
        # Malformed IDNA names: refused, not a crash (idna.IDNAError is a UnicodeError).
        ("https://xn--/", "Некорректный адрес"),
        ("https://xn--a-.example.com/hook", "Некорректный адрес"),
        ("https://hooks.example.com:99999/hook", "Порт"),
        ("https://hooks.example.com:65536/hook", "Порт"),
        ("https://hooks.example.com:0/hook", "Порт"),
        ("https://[fe80::1%25eth0]/hook", "зону IPv6"),
        ("https://[2606:4700:4700::1111%25eth0]/hook", "зону IPv6"),
    ],
)
def test_registration_refuses(url, reason):
    with pytest.raises(WebhookUrlInvalid) as refused:
        check_registration(url, allow_private=False, timeout=2.0)
    assert reason in refused.value.message


@pytest.mark.parametrize(
    "url", ["https://xn--/", "https://127.0.0.1:0/", "https://127.0.0.1:99999/", "https://[::1%25lo]:8443/"]
)
def test_a_malformed_address_is_refused_locally_too_and_a_delivery_to_it_fails(url):
    with pytest.raises(WebhookUrlInvalid):
        check_registration(url, allow_private=True, timeout=2.0)
    outcome = Sender(timeout=2.0, allow_private=True).post(url, {}, BODY)
    assert (outcome.ok, outcome.status_code) == (False, None) and outcome.error


def test_ports_1_and_65535_are_accepted():
    assert check_registration("https://hooks.example.com:1/", False, 2.0) == "https://hooks.example.com:1/"
    assert check_registration("https://hooks.example.com:65535/x", False, 2.0) == (
        "https://hooks.example.com:65535/x"
    )


def test_registration_accepts_a_public_name_and_locally_a_private_address():
    # Not resolvable here: accepted, as every delivery checks the address again.
    assert check_registration(" https://hooks.example.com/autopost ", False, 2.0) == (
        "https://hooks.example.com/autopost"
    )
    assert check_registration("https://127.0.0.1:8443/hook", True, 2.0) == "https://127.0.0.1:8443/hook"
    with pytest.raises(WebhookUrlInvalid):
        check_registration("http://127.0.0.1:8443/hook", True, 2.0)


# -- answers ----------------------------------------------------------------------------------


def test_a_redirect_is_a_failed_delivery_and_is_not_followed():
    with https_receiver() as receiver:
        receiver.answers = [(302, {"Location": receiver.url("/elsewhere")}, b"")]
        sender = Sender(timeout=5.0, allow_private=True, ca_file=str(receiver.ca_file))
        outcome = sender.post(receiver.url(), {}, BODY)
        assert (outcome.ok, outcome.status_code) == (False, 302)
        assert "перенаправления не выполняются" in outcome.error
        assert [r.path for r in receiver.requests] == ["/hook"]


def test_an_error_answer_is_kept_short():
    with https_receiver() as receiver:
        receiver.answers = [(500, {}, b"x" * 100_000)]
        sender = Sender(timeout=5.0, allow_private=True, ca_file=str(receiver.ca_file))
        outcome = sender.post(receiver.url(), {}, BODY)
        assert (outcome.ok, outcome.status_code) == (False, 500)
        assert outcome.error.startswith("HTTP 500: xxx") and len(outcome.error) <= 1024 + len("HTTP 500: ")


def test_a_receiver_trickling_its_headers_is_cut_off_at_the_delivery_budget():
    """Each byte comes well within any per-read timeout; the delivery still ends at its
    budget in all, instead of when the receiver pleases."""
    with https_receiver() as receiver:
        slow = Trickle(
            b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 60 + b"\r\nContent-Length: 0\r\n\r\n", 0.1
        )
        receiver.trickles["/hook"] = slow
        sender = Sender(timeout=1.0, allow_private=True, ca_file=str(receiver.ca_file))
        started = time.monotonic()
        outcome = sender.post(receiver.url(), {}, BODY)
        elapsed = time.monotonic() - started
        assert slow.seconds > 5
        assert elapsed < 2.5, elapsed
        assert (outcome.ok, outcome.status_code) == (False, None)
        assert outcome.error == "Получатель не ответил за 1 с"


def test_a_2xx_is_delivered_without_reading_its_body():
    with https_receiver() as receiver:
        slow = Trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 80\r\n\r\n", b"x" * 80, 0.1)
        receiver.trickles["/hook"] = slow
        sender = Sender(timeout=3.0, allow_private=True, ca_file=str(receiver.ca_file))
        started = time.monotonic()
        outcome = sender.post(receiver.url(), {}, BODY)
        assert time.monotonic() - started < 1.5
        assert (outcome.ok, outcome.status_code, outcome.error) == (True, 200, None)


def test_a_trickled_error_answer_keeps_what_came_within_the_budget():
    with https_receiver() as receiver:
        slow = Trickle(b"HTTP/1.1 500 Oops\r\nContent-Length: 80\r\n\r\nbroken", b"x" * 74, 0.1)
        receiver.trickles["/hook"] = slow
        sender = Sender(timeout=1.0, allow_private=True, ca_file=str(receiver.ca_file))
        started = time.monotonic()
        outcome = sender.post(receiver.url(), {}, BODY)
        assert time.monotonic() - started < 2.5
        assert (outcome.ok, outcome.status_code) == (False, 500)
        assert outcome.error.startswith("HTTP 500: broken")


def test_hung_dns_lookups_do_not_starve_later_ones(monkeypatch):
    """A lookup that gives up leaves its getaddrinfo running; later lookups must not wait
    behind any number of those."""
    released = threading.Event()
    real = socket.getaddrinfo

    def answers(host, port, *args, **kwargs):
        if host.endswith(".hung.test"):
            released.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "hung")
        if host == "victim.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", answers)
    try:
        for n in range(8):
            with pytest.raises(Unresolvable):
                resolve(f"name-{n}.hung.test", 443, 0.05)
        assert resolve("victim.test", 443, 2.0) == [ipaddress.ip_address("93.184.215.14")]
    finally:
        released.set()


def test_a_silent_receiver_times_out(listener):
    port, _ = listener  # accepts and closes: no TLS answer
    sender = Sender(timeout=1.0, allow_private=True)
    outcome = sender.post(f"https://127.0.0.1:{port}/", {}, BODY)
    assert not outcome.ok and outcome.status_code is None


# -- the retry schedule -----------------------------------------------------------------------


def test_the_default_schedule_is_the_specs_and_spans_more_than_a_day():
    schedule = settings().webhook_retry_seconds
    assert schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert sum(schedule) >= 24 * 3600
    dispatcher = WebhookDispatcher(settings(), repository=None, sender=None, sqs=None)  # type: ignore[arg-type]
    # After attempt n the message waits schedule[n]; past the schedule, its last wait.
    assert [dispatcher.wait_after(n) for n in range(1, 10)] == [
        5,
        300,
        1800,
        7200,
        18000,
        36000,
        36000,
        36000,
        36000,
    ]


def test_the_schedule_is_a_setting_and_bounded_by_sqs():
    assert settings(WEBHOOK_RETRY_SECONDS="[0, 1, 2]").webhook_retry_seconds == (0, 1, 2)
    with pytest.raises(ValueError, match="43200"):
        settings(WEBHOOK_RETRY_SECONDS="[0, 50000]")
    with pytest.raises(ValueError, match="JSON"):
        settings(WEBHOOK_RETRY_SECONDS="0,5")


def test_the_queue_and_the_function_fit_the_schedule():
    """Attempts are counted in the message: each wait is one new message, delayed up to 15
    minutes by SQS and hidden for the rest when received early (so about two receives per
    wait); the function parks the delivery after the last attempt, the queue's redrive is a
    backstop well above that."""
    resources = load_template()["Resources"]
    function = resources["WebhookFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    schedule = json.loads(variables["WEBHOOK_RETRY_SECONDS"])
    assert tuple(schedule) == settings().webhook_retry_seconds
    assert all(wait <= MAX_DELAY_SECONDS + MAX_HIDE_SECONDS for wait in schedule)
    queue = resources["WebhookQueue"]["Properties"]
    receives = queue["RedrivePolicy"]["maxReceiveCount"]
    assert receives == 15 and receives > 2 * 3  # a few failed invocations besides the two
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}
    assert variables["WEBHOOK_DEAD_LETTER_QUEUE_URL"] == {"Ref": "WebhookDeadLetterQueue"}
    assert {
        "SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["WebhookDeadLetterQueue", "QueueName"]}}
    } in (function["Policies"])
    # A message outlives its longest wait, and the dead-letter copy is kept two weeks.
    assert queue["MessageRetentionPeriod"] >= max(schedule) + 24 * 3600
    assert resources["WebhookDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 1209600
    events = function["Events"]["Deliveries"]["Properties"]
    assert events["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # A whole batch of deliveries, each within its budget and the reserve, fits the timeout.
    budget = float(variables["WEBHOOK_TIMEOUT_SECONDS"])
    assert budget == settings().webhook_timeout_seconds
    assert function["Timeout"] >= events["BatchSize"] * (budget + RESERVE_SECONDS) + RESERVE_SECONDS
    assert queue["VisibilityTimeout"] >= function["Timeout"]


def test_an_event_the_rule_cannot_queue_is_retried_for_a_day_then_kept_and_alarmed():
    resources = load_template()["Resources"]
    rule = resources["WebhookEventsRule"]["Properties"]
    assert rule["EventPattern"] == {"source": ["autopost"]}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["WebhookQueue", "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["WebhookEventsRuleDeadLetterQueue", "Arn"]}}
    queue = resources["WebhookEventsRuleDeadLetterQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"] == {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}
    (policy,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy"
        and r["Properties"]["Queues"] == [{"Ref": "WebhookEventsRuleDeadLetterQueue"}]
    ]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == {"Fn::GetAtt": ["WebhookEventsRuleDeadLetterQueue", "Arn"]}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["WebhookEventsRule", "Arn"]}}
    }
    alarm = resources["WebhookEventsRuleDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["WebhookEventsRuleDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] and alarm["TreatMissingData"] == "notBreaching"
    assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "ApproximateNumberOfMessagesVisible",
        0,
        "GreaterThanThreshold",
    )


def test_an_endpoint_without_types_wants_every_event():
    everything = Endpoint("wh_1", "u", "https://h.example/", (), datetime.now(UTC))
    some = Endpoint("wh_2", "u", "https://h.example/", ("publication.published",), datetime.now(UTC))
    assert everything.wants("publication.failed")
    assert some.wants("publication.published") and not some.wants("publication.failed")


def test_a_secret_is_never_in_a_repr():
    secret = new_secret()
    assert secret.get_secret_value() not in repr(secret) and isinstance(secret, SecretStr)


def test_the_readme_receiver_verifies_a_delivery_and_refuses_a_tampered_one():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Webhooks") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    secret = new_secret()
    namespace: dict[str, object] = {}
    exec(code.replace('"whsec_…"', repr(secret.get_secret_value())), namespace)  # noqa: S102 - our README
    receive = namespace["receive"]
    body = payload_of(
        {
            "eventId": "evt_1",
            "type": "publication.published",
            "at": "2026-11-30T12:00:00.000Z",
            "publicationId": "p1",
            "status": "published",
            "userId": "u",
        }
    )
    headers = signed_headers(secret, "evt_1", body)
    assert receive(body.encode(), headers) == 204
    assert receive(body.replace("p1", "p2").encode(), headers) == 400
