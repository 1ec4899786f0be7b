import pytest
from pydantic import SecretStr

from autopost.infra.crypto import TokenCipher, TokenContext, TokenDecryptError, WeakSecret

KEY_A = SecretStr("a" * 16 + "-first-secret-of-sufficient-length")
KEY_B = SecretStr("b" * 16 + "-second-secret-of-sufficient-length")
TOKEN = SecretStr("vk1.a.super-secret-access-token-value")
HERE = TokenContext("user-1", "vk", "access")


def test_round_trip():
    cipher = TokenCipher(KEY_A)
    sealed = cipher.encrypt(TOKEN, HERE)
    assert cipher.decrypt(sealed, HERE).get_secret_value() == TOKEN.get_secret_value()
    assert TOKEN.get_secret_value() not in sealed
    assert sealed.startswith(f"v1.{cipher.current_key_id}.")


def test_every_encryption_differs():
    cipher = TokenCipher(KEY_A)
    assert cipher.encrypt(TOKEN, HERE) != cipher.encrypt(TOKEN, HERE)


@pytest.mark.parametrize("position", [5, 20, -3])
def test_a_tampered_ciphertext_is_refused(position):
    cipher = TokenCipher(KEY_A)
    sealed = cipher.encrypt(TOKEN, HERE)
    prefix_length = len(f"v1.{cipher.current_key_id}.")
    index = prefix_length + position if position >= 0 else len(sealed) + position
    flipped = sealed[:index] + ("A" if sealed[index] != "A" else "B") + sealed[index + 1 :]
    with pytest.raises(TokenDecryptError):
        cipher.decrypt(flipped, HERE)


@pytest.mark.parametrize(
    "elsewhere",
    [
        TokenContext("user-2", "vk", "access"),
        TokenContext("user-1", "dzen", "access"),
        TokenContext("user-1", "vk", "refresh"),
    ],
    ids=["other-user", "other-platform", "other-field"],
)
def test_a_ciphertext_moved_to_another_row_or_field_is_refused(elsewhere):
    cipher = TokenCipher(KEY_A)
    with pytest.raises(TokenDecryptError):
        cipher.decrypt(cipher.encrypt(TOKEN, HERE), elsewhere)


def test_previous_keys_decrypt_and_the_current_key_encrypts():
    old = TokenCipher(KEY_A)
    sealed_with_a = old.encrypt(TOKEN, HERE)
    rotated = TokenCipher(KEY_B, previous=[KEY_A])
    assert rotated.decrypt(sealed_with_a, HERE).get_secret_value() == TOKEN.get_secret_value()
    assert not rotated.is_current(sealed_with_a)
    assert rotated.is_current(rotated.encrypt(TOKEN, HERE))
    # Once the old key is removed, its ciphertexts no longer open.
    with pytest.raises(TokenDecryptError, match="not configured"):
        TokenCipher(KEY_B).decrypt(sealed_with_a, HERE)


def test_a_short_secret_is_refused():
    with pytest.raises(WeakSecret):
        TokenCipher(SecretStr("too-short"))


def test_the_cipher_never_shows_its_keys():
    cipher = TokenCipher(KEY_A, previous=[KEY_B])
    assert KEY_A.get_secret_value() not in repr(cipher)
    assert "keys=2" in repr(cipher)


@pytest.mark.parametrize("garbage", ["", "v2.abc.def", "v1.only-two", "v1.k.!!!"])
def test_garbage_is_refused(garbage):
    with pytest.raises(TokenDecryptError):
        TokenCipher(KEY_A).decrypt(garbage, HERE)
