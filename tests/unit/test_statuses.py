import itertools

import pytest

from autopost.domain.errors import InvalidTransition
from autopost.domain.statuses import ALLOWED_TRANSITIONS, PublicationStatus, ensure_transition

S = PublicationStatus
ALLOWED = {
    (S.SCHEDULED, S.PUBLISHING),
    (S.SCHEDULED, S.CANCELLED),
    (S.PUBLISHING, S.PUBLISHED),
    (S.PUBLISHING, S.FAILED),
    (S.FAILED, S.PUBLISHING),
    # An attempt the state machine gave up on made its post after all.
    (S.FAILED, S.PUBLISHED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair_of_statuses_is_allowed_only_if_listed(current, target):
    if (current, target) in ALLOWED:
        ensure_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as caught:
            ensure_transition(current, target)
        assert caught.value.details == {"from": current.value, "to": target.value}
        assert caught.value.status == 409


def test_the_table_holds_exactly_the_specified_transitions():
    table = {(c, t) for c, targets in ALLOWED_TRANSITIONS.items() for t in targets}
    assert table == ALLOWED


def test_only_scheduled_and_publishing_are_active():
    assert {s for s in S if s.is_active} == {S.SCHEDULED, S.PUBLISHING}
