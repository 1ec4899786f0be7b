"""What every body of the HTTP API shares: camelCase on the wire, inputs that refuse
unknown fields, text without control characters, the error object."""

from __future__ import annotations

import unicodedata

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError


class ApiModel(BaseModel):
    # Built on first use: a cold start builds only the schemas its request touches.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True)


class InputModel(ApiModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


def without_control_characters(value: str, allowed: str) -> str:
    """Text a platform shows as it is: a NUL or an escape sequence is refused, not sent."""
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in value) or any(
        ch in "\u2028\u2029\u202e\u2066\u2067\u2068\u2069" for ch in value
    ):
        raise PydanticCustomError("control_characters", "control characters are not allowed")
    return value


class ErrorInfo(ApiModel):
    code: str
    message: str


def ascii_secret(value: SecretStr | None, *, allow_space: bool) -> SecretStr | None:
    """A credential that travels in an HTTP header is printable ASCII, or it is not one."""
    if value is None:
        return value
    low = 0x20 if allow_space else 0x21
    if any(not low <= ord(c) <= 0x7E for c in value.get_secret_value()):
        raise PydanticCustomError("ascii_credential", "credentials are printable ASCII")
    return value
