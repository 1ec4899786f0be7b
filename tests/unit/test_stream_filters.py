"""template.yaml's filter on the publications stream: Lambda drops a `published` item that
stays `published` (the stats sync's writes) and passes every change the history tells.
devstack.event_sources.matches plays Lambda's filtering, locally and here."""

from __future__ import annotations

import pytest

from devstack.event_sources import filter_patterns, matches
from devstack.template import load_template


@pytest.fixture(scope="module")
def patterns():
    function = load_template()["Resources"]["PublicationEventsFunction"]
    (changes,) = function["Properties"]["Events"].values()
    return filter_patterns(changes["Properties"])


def record(name, old=None, new=None):
    change = {"Keys": {"publication_id": {"S": "p"}}, "SequenceNumber": "1"}
    if old:
        change["OldImage"] = {"status": {"S": old}}
    if new:
        change["NewImage"] = {"status": {"S": new}}
    return {"eventName": name, "dynamodb": change}


@pytest.mark.parametrize(
    ("name", "old", "new", "delivered"),
    [
        ("INSERT", None, "scheduled", True),
        ("INSERT", None, "publishing", True),
        ("MODIFY", "scheduled", "publishing", True),
        ("MODIFY", "publishing", "publishing", True),
        ("MODIFY", "publishing", "published", True),
        ("MODIFY", "failed", "published", True),
        ("MODIFY", "published", "published", False),
        ("REMOVE", "publishing", None, True),
        ("REMOVE", "published", None, False),
    ],
)
def test_only_a_published_item_staying_published_is_dropped(patterns, name, old, new, delivered):
    assert any(matches(p, record(name, old, new)) for p in patterns) is delivered
