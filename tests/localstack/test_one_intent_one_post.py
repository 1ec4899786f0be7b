"""One intent, one post, through the local stack: twenty identical publish requests at once
(a double submit, a client retrying a lost answer, a network replaying a POST) make one
publication and one post; publishing again after it is out is a choice (`repost`)."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from devstack.process import wait_until
from tests.localstack.test_local_stack import connect_telegram

REQUESTS = 20


def telegram_posts(stack, caption):
    messages = httpx.get(f"{stack.emulator('telegram')}/_emulator/state").json()["messages"]
    return [m for m in messages if m["caption"] == caption]


def all_at_once(stack, user, body, headers=None):
    def send(_):
        with stack.api(user) as api:
            return api.post("/clips/clip-1/publications", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        return list(pool.map(send, range(REQUESTS)))


def publish_as_a_client_would(stack, user, body):
    """The twenty requests may have spent the user's publish budget for this minute: a client
    waits as Retry-After says and sends again."""
    api = stack.api(user)
    for _ in range(3):
        answer = api.post("/clips/clip-1/publications", json=body)
        if answer.status_code != 429:
            return answer
        time.sleep(int(answer.headers["retry-after"]))
    return answer


def published(stack, user, publication_id):
    api = stack.api(user)
    wait_until(
        lambda: api.get(f"/publications/{publication_id}").json()["status"] == "published",
        60,
        "the publication published",
    )


def test_twenty_identical_requests_make_one_post_and_a_repost_makes_a_second(local_stack):
    user, caption = "intent-1", "Один раз"
    local_stack.upload_ready_clip(user, "clip-1")
    connect_telegram(local_stack, local_stack.api(user), "intent_channel_1")
    body = {"platforms": ["telegram"], "title": caption}

    answers = all_at_once(local_stack, user, body)
    created = [a for a in answers if a.status_code == 201]
    assert len(created) == 1, [a.text for a in answers]
    refused = {a.json()["error"]["code"] for a in answers if a.status_code != 201}
    assert {a.status_code for a in answers if a.status_code != 201} <= {409}
    assert refused <= {"DUPLICATE_PUBLICATION", "ALREADY_PUBLISHED"}
    (first,) = created[0].json()["items"]
    published(local_stack, user, first["id"])

    again = publish_as_a_client_would(local_stack, user, body)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["message"] == "Клип уже опубликован в Telegram"
    assert len(telegram_posts(local_stack, caption)) == 1

    repost = publish_as_a_client_would(local_stack, user, {**body, "repost": True})
    assert repost.status_code == 201
    (second,) = repost.json()["items"]
    published(local_stack, user, second["id"])
    assert len(telegram_posts(local_stack, caption)) == 2


def test_twenty_requests_with_one_idempotency_key_answer_alike(local_stack):
    user, caption = "intent-2", "С ключом"
    local_stack.upload_ready_clip(user, "clip-1")
    connect_telegram(local_stack, local_stack.api(user), "intent_channel_2")
    key = {"Idempotency-Key": str(uuid.uuid4())}

    answers = all_at_once(local_stack, user, {"platforms": ["telegram"], "title": caption}, key)
    assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    assert all(a.headers.get("retry-after") == "1" for a in answers if a.status_code == 409)
    bodies = {json.dumps(a.json(), sort_keys=True) for a in answers if a.status_code == 201}
    assert len(bodies) == 1  # every 201 is the first answer again
    (publication,) = answers[[a.status_code for a in answers].index(201)].json()["items"]
    published(local_stack, user, publication["id"])
    assert len(telegram_posts(local_stack, caption)) == 1
    assert len(local_stack.api(user).get("/publications").json()["items"]) == 1
