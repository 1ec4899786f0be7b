import pytest

from autopost.errors import InvalidRequest
from autopost.storage.cursor import decode_cursor, encode_cursor

KEY = {"publication_id": {"S": "p1"}, "user_id": {"S": "u1"}, "created_at": {"S": "2026-01-01T00:00:00.000Z"}}


def test_round_trip():
    assert decode_cursor(encode_cursor(KEY, owner="u1"), owner="u1") == KEY


def test_no_key_means_no_cursor():
    assert encode_cursor(None, owner="u1") is None
    assert decode_cursor(None, owner="u1") is None


def test_a_cursor_made_for_another_user_is_refused():
    with pytest.raises(InvalidRequest):
        decode_cursor(encode_cursor(KEY, owner="u1"), owner="u2")


@pytest.mark.parametrize("garbage", ["%%%", "bm90IGpzb24", "W10"])
def test_garbage_is_refused(garbage):
    with pytest.raises(InvalidRequest):
        decode_cursor(garbage, owner="u1")
