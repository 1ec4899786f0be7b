import pytest

from autopost.domain.errors import InvalidCursor
from autopost.storage.cursor import decode_cursor, encode_cursor
from autopost.storage.publications import CURSOR_KEYS

KEY = {"publication_id": {"S": "p1"}, "user_id": {"S": "u1"}, "created_at": {"S": "2026-01-01T00:00:00.000Z"}}


def decode(cursor, owner="u1"):
    return decode_cursor(cursor, owner=owner, keys=CURSOR_KEYS)


def test_round_trip():
    assert decode(encode_cursor(KEY, owner="u1")) == KEY


def test_no_key_means_no_cursor():
    assert encode_cursor(None, owner="u1") is None
    assert decode(None) is None


def test_a_cursor_made_for_another_user_is_refused():
    with pytest.raises(InvalidCursor):
        decode(encode_cursor(KEY, owner="u1"), owner="u2")


@pytest.mark.parametrize("garbage", ["%%%", "bm90IGpzb24", "W10"])
def test_garbage_is_refused(garbage):
    with pytest.raises(InvalidCursor):
        decode(garbage)


@pytest.mark.parametrize(
    "forged",
    [
        {"publication_id": {"S": "p1"}},  # missing key parts
        {**KEY, "extra": {"S": "x"}},
        {**KEY, "created_at": {"N": "1"}},  # wrong type
        {**KEY, "created_at": {"S": ""}},
        {**KEY, "created_at": {"S": "x" * 5000}},
        {**KEY, "user_id": {"S": "u2"}},  # the owner's name outside, another user's key inside
        {**KEY, "publication_id": {"S": ["p1"]}},
    ],
)
def test_a_cursor_forged_with_the_right_owner_but_a_bad_key_is_refused(forged):
    with pytest.raises(InvalidCursor):
        decode(encode_cursor(forged, owner="u1"))
