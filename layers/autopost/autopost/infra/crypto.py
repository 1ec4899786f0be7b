"""Platform tokens encrypted at rest: AES-256-GCM, the row's identity as associated data.

A ciphertext reads `v1.<key id>.<base64url(nonce | ciphertext+tag)>`. The associated data
names the user, the platform and the field, so a ciphertext copied into another row (or
from the refresh field into the access field) fails to decrypt. Keys are derived with
HKDF-SHA256 from PLATFORM_TOKEN_SECRET; previous secrets still decrypt until the rotation
command (autopost.maintenance.rotation) has re-encrypted every row with the current one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

VERSION = "v1"
MIN_SECRET_LENGTH = 32
_NONCE = 12


class TokenDecryptError(Exception):
    """A stored token cannot be read: tampered, moved to another row, or its key is gone."""


class UnknownKey(TokenDecryptError):
    """Encrypted under a key this cipher does not hold (yet, or any more)."""


class WeakSecret(ValueError):
    pass


@dataclass(frozen=True)
class TokenContext:
    """Whose token this is: bound into every ciphertext as associated data."""

    user_id: str
    platform: str
    field: str

    def associated_data(self) -> bytes:
        return f"autopost/{VERSION}/{self.user_id}/{self.platform}/{self.field}".encode()


def _derive(secret: SecretStr) -> tuple[str, AESGCM]:
    raw = secret.get_secret_value()
    if len(raw) < MIN_SECRET_LENGTH:
        raise WeakSecret(f"a token secret must have at least {MIN_SECRET_LENGTH} characters")
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"autopost-platform-tokens", info=VERSION.encode()
    ).derive(raw.encode())
    # The key id names the key without revealing it: a digest of the derived key.
    key_id = hashlib.sha256(b"key-id:" + key).hexdigest()[:12]
    return key_id, AESGCM(key)


class TokenCipher:
    def __init__(self, current: SecretStr, previous: Sequence[SecretStr] = ()) -> None:
        self.current_key_id, current_key = _derive(current)
        self._keys = {self.current_key_id: current_key}
        for secret in previous:
            key_id, key = _derive(secret)
            self._keys.setdefault(key_id, key)

    def __repr__(self) -> str:
        return f"TokenCipher(current={self.current_key_id}, keys={len(self._keys)})"

    def encrypt(self, plaintext: SecretStr, context: TokenContext) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._keys[self.current_key_id].encrypt(
            nonce, plaintext.get_secret_value().encode(), context.associated_data()
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{VERSION}.{self.current_key_id}.{payload}"

    def decrypt(self, ciphertext: str, context: TokenContext) -> SecretStr:
        _, key_id, payload = self._parts(ciphertext)
        key = self._keys.get(key_id)
        if key is None:
            raise UnknownKey(f"token encrypted with key {key_id}, which is not configured")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            plaintext = key.decrypt(raw[:_NONCE], raw[_NONCE:], context.associated_data())
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise TokenDecryptError("token does not decrypt for this row (tampered or moved)") from exc
        return SecretStr(plaintext.decode())

    def key_id_of(self, ciphertext: str) -> str:
        return self._parts(ciphertext)[1]

    def is_current(self, ciphertext: str) -> bool:
        return self.key_id_of(ciphertext) == self.current_key_id

    @staticmethod
    def _parts(ciphertext: str) -> tuple[str, str, str]:
        parts = ciphertext.split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise TokenDecryptError("not a token ciphertext")
        return parts[0], parts[1], parts[2]


# A cipher, or where to get the current one (secrets.token_cipher, which takes `fresh=True`
# to read the keys again now): long-lived objects take the latter, so a key rotation reaches
# them without a restart.
CipherSource = Union["TokenCipher", Callable[..., "TokenCipher"]]


def cipher_of(source: CipherSource) -> TokenCipher:
    return source if isinstance(source, TokenCipher) else source()


def decrypt_with(source: CipherSource, ciphertext: str, context: TokenContext) -> SecretStr:
    """Decrypt with the source's keys; under a key they do not hold, read them again once.
    Right after a rotation, an environment that already read the new key writes with it
    while this one still has the old keys in its cache (minutes, in AWS)."""
    try:
        return cipher_of(source).decrypt(ciphertext, context)
    except UnknownKey:
        if isinstance(source, TokenCipher):
            raise
        return source(fresh=True).decrypt(ciphertext, context)
