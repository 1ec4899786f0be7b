"""The state machine writes statuses too: every status it sets, from the status its
condition requires, must be a transition `statuses.py` allows (and it must require one)."""

from __future__ import annotations

import json
import re

from autopost.domain.statuses import ALLOWED_TRANSITIONS, PublicationStatus
from devstack.template import ROOT


def status_writes(definition: dict) -> list[tuple[str, str, str]]:
    """(state name, from, to) for each Task that sets the publication's status."""
    found = []
    pending = [definition]
    while pending:
        machine = pending.pop()
        for name, state in machine.get("States", {}).items():
            for branch in state.get("Branches", []) + (
                [state["ItemProcessor"]] if "ItemProcessor" in state else []
            ):
                pending.append(branch)
            parameters = state.get("Parameters") or {}
            update = parameters.get("UpdateExpression", "")
            target = re.search(r"#status = (:\w+)", update)
            if state.get("Type") != "Task" or target is None:
                continue
            values = parameters.get("ExpressionAttributeValues", {})
            condition = parameters.get("ConditionExpression", "")
            required = re.findall(r"#status = (:\w+)", condition)
            assert required, f"{name} sets the status without requiring one"
            for placeholder in required:
                found.append((name, values[placeholder]["S"], values[target.group(1)]["S"]))
    return found


def test_every_status_the_state_machine_writes_is_an_allowed_transition():
    text = (ROOT / "statemachines" / "publish.asl.json").read_text()
    definition = json.loads(re.sub(r"\$\{[A-Za-z]+TaskTimeoutSeconds\}", "1", text))
    writes = status_writes(definition)
    assert {(old, new) for _, old, new in writes} >= {("scheduled", "publishing"), ("publishing", "failed")}
    for name, old, new in writes:
        assert PublicationStatus(new) in ALLOWED_TRANSITIONS[PublicationStatus(old)], (name, old, new)


def test_the_check_fails_when_they_disagree():
    """The check itself: a state that would move a published publication back is caught."""
    bad = {
        "States": {
            "Undo": {
                "Type": "Task",
                "Parameters": {
                    "UpdateExpression": "SET #status = :publishing",
                    "ConditionExpression": "#status = :published",
                    "ExpressionAttributeValues": {
                        ":publishing": {"S": "publishing"},
                        ":published": {"S": "published"},
                    },
                },
            }
        }
    }
    ((_name, old, new),) = status_writes(bad)
    assert PublicationStatus(new) not in ALLOWED_TRANSITIONS[PublicationStatus(old)]
