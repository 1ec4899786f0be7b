"""/webhooks on the moto stack: register (https only, public, up to five, the secret shown
once and stored encrypted), list, delete; another user's endpoint is not found."""

from __future__ import annotations

import re
import threading

from standardwebhooks import Webhook

from autopost.domain.errors import WebhookUrlInvalid
from autopost.domain.webhooks import MAX_ENDPOINTS
from autopost.infra.secrets import webhook_cipher
from autopost.infra.settings import get_settings
from autopost.storage.tables import records
from autopost.storage.webhooks import WebhookRepository

URL = "https://hooks.example.com/autopost"


def create(harness, user="user-1", url=URL, **body):
    return harness.api("POST", "/webhooks", body={"url": url, **body}, user=user)


def test_an_endpoint_is_created_listed_and_its_secret_shown_only_once(harness):
    created = create(harness, eventTypes=["publication.published", "publication.failed"])
    assert created.status == 201, created.body
    body = created.body
    assert body["url"] == URL
    assert body["eventTypes"] == ["publication.published", "publication.failed"]
    assert body["id"].startswith("wh_") and body["createdAt"].endswith("Z")
    secret = body["secret"]
    Webhook(secret)  # a whsec_ secret the reference library takes

    listed = harness.api("GET", "/webhooks")
    assert listed.status == 200
    assert listed.body["items"] == [{k: v for k, v in body.items() if k != "secret"}]
    deliveries = harness.api("GET", f"/webhooks/{body['id']}/deliveries")
    assert deliveries.status == 200 and deliveries.body == {"items": []}
    assert secret not in listed.text + deliveries.text

    # At rest only its ciphertext: no attribute of any row holds the secret.
    rows = list(records(get_settings()).webhook.scan())
    assert rows and all(secret not in str(row.attribute_values) for row in rows)


def test_without_event_types_an_endpoint_receives_every_type(harness):
    created = create(harness)
    assert created.status == 201
    assert len(created.body["eventTypes"]) == 10 and "publication.published" in created.body["eventTypes"]


def test_only_https_and_only_public_addresses(harness):
    for url in (
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://10.0.0.5/x",
        "https://localhost/x",
    ):
        refused = create(harness, url=url)
        assert refused.status == 422, url
        assert refused.body["error"]["code"] == "WEBHOOK_URL_INVALID"
        assert refused.body["error"]["message"]
    assert harness.api("GET", "/webhooks").body["items"] == []


def test_malformed_names_ports_and_zones_are_refused_not_a_server_error(harness):
    for url in (
        "https://xn--/",
        "https://xn--a-.example.com/hook",
        "https://hooks.example.com:99999/hook",
        "https://hooks.example.com:0/hook",
        "https://[fe80::1%25eth0]/hook",
        "https://[2002:7f00:1::1]/hook",  # 6to4 carrying 127.0.0.1
    ):
        refused = create(harness, url=url)
        assert refused.status == 422, (url, refused.body)
        assert refused.body["error"]["code"] == "WEBHOOK_URL_INVALID"
        assert refused.body["error"]["message"] != WebhookUrlInvalid.default_message
        assert re.search("[а-яА-Я]", refused.body["error"]["message"])
    assert harness.api("GET", "/webhooks").body["items"] == []


def test_unknown_or_repeated_event_types_are_refused(harness):
    unknown = create(harness, eventTypes=["publication.exploded"])
    assert unknown.status == 422 and unknown.body["error"]["code"] == "VALIDATION_ERROR"
    repeated = create(harness, eventTypes=["publication.failed", "publication.failed"])
    assert repeated.status == 422
    assert repeated.body["error"]["details"]["fields"][0]["message"] == "Типы событий не должны повторяться"


def test_five_endpoints_at_most_and_a_deleted_one_frees_its_place(harness):
    ids = [create(harness, url=f"{URL}/{n}").body["id"] for n in range(MAX_ENDPOINTS)]
    refused = create(harness, url=f"{URL}/6")
    assert refused.status == 409 and refused.body["error"]["code"] == "WEBHOOK_LIMIT"
    assert len(harness.api("GET", "/webhooks").body["items"]) == MAX_ENDPOINTS
    # Another user's limit is their own.
    assert create(harness, user="user-2").status == 201

    assert harness.api("DELETE", f"/webhooks/{ids[2]}").status == 204
    assert create(harness, url=f"{URL}/7").status == 201
    assert create(harness, url=f"{URL}/8").status == 409


def test_five_is_the_limit_under_concurrent_registrations(harness):
    repository = WebhookRepository(get_settings(), webhook_cipher)
    outcomes: list[str] = []

    def register(n: int) -> None:
        try:
            repository.create("user-9", f"{URL}/{n}", ())
            outcomes.append("created")
        except Exception as exc:  # noqa: BLE001 - counted below
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes.count("created") == MAX_ENDPOINTS
    assert set(outcomes) == {"created", "WebhookLimitReached"}
    assert len(repository.list_for_user("user-9")) == MAX_ENDPOINTS


def test_delete_and_another_users_endpoint_is_not_found(harness):
    endpoint = create(harness).body["id"]
    for method, path in (("DELETE", f"/webhooks/{endpoint}"), ("GET", f"/webhooks/{endpoint}/deliveries")):
        foreign = harness.api(method, path, user="user-2")
        assert foreign.status == 404 and foreign.body["error"]["code"] == "WEBHOOK_NOT_FOUND"
    assert harness.api("GET", "/webhooks", user="user-2").body["items"] == []
    assert [e["id"] for e in harness.api("GET", "/webhooks").body["items"]] == [endpoint]

    deleted = harness.api("DELETE", f"/webhooks/{endpoint}")
    assert deleted.status == 204 and not deleted.text
    assert harness.api("GET", "/webhooks").body["items"] == []
    again = harness.api("DELETE", f"/webhooks/{endpoint}")
    assert again.status == 404 and again.body["error"]["code"] == "WEBHOOK_NOT_FOUND"
    assert harness.api("GET", "/webhooks/wh_unknown/deliveries").status == 404
