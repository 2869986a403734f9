"""Opaque keyset cursors that every worker and every restart accepts.

A cursor holds the sort key values of the last row of a page, the sort it was made for and the
resource, behind a 16-byte tag. Nothing in it depends on the process that made it:

- Without ``cursor_secret`` the tag is a keyed hash under a fixed, public key: a checksum that
  catches a cursor cut short or edited by hand. It is not a secret, and it need not be: decoding
  accepts only the resource and sort the request names, and exactly one value per sort key,
  each validated against that key's column type. A client who forges a cursor can only ask
  for rows after a point of its choosing, which ``sort`` and filters already let it do; the
  values are bound parameters, never SQL.
- With ``cursor_secret`` the tag is an HMAC-SHA256 under that key, for apps that want cursors
  only they can mint (every process of the app must then share the key).

Since anyone can write a cursor that passes the checksum, its values are held to what a column
can hold before they reach a statement: integers within the bounds the caller gives (64-bit
without them), finite numbers, text without NUL. A value beyond them names no row, so the
cursor names no page.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import hashlib
import hmac
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from .._model import adapter_for
from .._model._inspect import DOUBLE_MAX, INT64_MAX, INT64_MIN
from ..errors import ConfigurationError

_TAG_BYTES = 16
_JSON_NATIVE = (int, str, bool)
MAX_CURSOR_LENGTH = 2048

CHECKSUM_KEY = b"crudrouter_sqla cursor v1"
"""The key of the tag when no ``cursor_secret`` is given: the same in every process."""


class CursorError(ValueError):
    """A cursor that cannot be used; the message says why, for the client."""


def cursor_key(secret: bytes | str | None) -> bytes:
    """The tag key for a ``cursor_secret`` option: the secret, or the shared checksum key."""
    if secret is None:
        return CHECKSUM_KEY
    return secret.encode() if isinstance(secret, str) else bytes(secret)


class CursorCodec:
    """Encodes and decodes the cursors of one resource.

    Args:
        resource: what the cursor is for (a table name); a cursor of another resource is refused.
        secret: ``cursor_secret``: an HMAC key, or None for the process-independent checksum.
    """

    def __init__(self, resource: str, secret: bytes | str | None = None) -> None:
        if secret is not None and (not isinstance(secret, bytes | str) or not secret):
            raise ConfigurationError(
                "cursor_secret must be a non-empty str or bytes (or None for cursors under the "
                f"fixed key), got {_shown_secret(secret)}"
            )
        self.resource = resource
        self.secret = cursor_key(secret)

    def _tag(self, payload: bytes) -> bytes:
        return hmac.digest(self.secret, payload, hashlib.sha256)[:_TAG_BYTES]

    def encode(self, sort: str, values: Sequence[Any], types: Sequence[type[Any]]) -> str:
        """A cursor that continues after a row with these sort key values."""
        dumped = [
            v
            if v is None or type(v) in _JSON_NATIVE
            else adapter_for(t).dump_python(v, mode="json")
            for v, t in zip(values, types, strict=True)
        ]
        payload = json.dumps([self.resource, sort, dumped], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._tag(payload) + payload).decode().rstrip("=")

    def decode(
        self,
        cursor: str,
        sort: str,
        types: Sequence[type[Any]],
        bounds: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[Any]:
        """The sort key values in a cursor; `CursorError` if it is malformed, altered, made
        for another resource or sort, or holds a value no sort key column can hold.

        Args:
            cursor: the cursor the client sent.
            sort: the sort of the request, as the cursor was made for it.
            types: the Python type of each sort key.
            bounds: for each sort key, the bounds of its column (``ge`` and ``le`` for
                integers, as `column_bounds` gives them), or None where there are none; without
                them, integers must fit in 64 bits.
        """
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise CursorError("cursor is too long")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise CursorError("cursor is not valid base64") from None
        tag, payload = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
        if not hmac.compare_digest(tag, self._tag(payload)):
            raise CursorError("cursor is malformed or was altered")
        try:
            resource, cursor_sort, values = json.loads(payload)
        except (ValueError, TypeError):
            raise CursorError("cursor is malformed") from None
        if resource != self.resource:
            raise CursorError("cursor was made for another resource")
        if cursor_sort != sort:
            raise CursorError(
                f"cursor was made for sort={cursor_sort or '(default)'}; "
                f"send the same sort to continue"
            )
        if not isinstance(values, list) or len(values) != len(types):
            raise CursorError("cursor is malformed")
        if bounds is not None and len(bounds) != len(types):
            raise ValueError(f"{len(types)} sort keys, but bounds for {len(bounds)}")
        try:
            decoded = [
                None if v is None else adapter_for(t).validate_python(v, strict=False)
                for v, t in zip(values, types, strict=True)
            ]
        except (ValidationError, TypeError, ValueError):
            raise CursorError("cursor is malformed") from None
        for index, value in enumerate(decoded):
            if not _storable(value, None if bounds is None else bounds[index]):
                raise CursorError("cursor holds a value beyond its sort key's column")
        return decoded


def _storable(value: Any, bounds: Mapping[str, Any] | None) -> bool:
    """Whether a decoded value is one a column could hold, so that the statement can bind it."""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        low = INT64_MIN if bounds is None else bounds.get("ge", INT64_MIN)
        high = INT64_MAX if bounds is None else bounds.get("le", INT64_MAX)
        return bool(low <= value <= high)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, decimal.Decimal):
        return value.is_finite() and abs(value) <= DOUBLE_MAX
    if isinstance(value, str):
        return "\x00" not in value
    return True


def _shown_secret(secret: object) -> str:
    """How a refused ``cursor_secret`` is named in the error: its type and length, never it."""
    if isinstance(secret, bytes | str):
        return f"a {type(secret).__name__} of {len(secret)} characters"
    return repr(type(secret).__name__)
