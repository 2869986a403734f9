"""Opaque, signed keyset cursors.

A cursor holds the sort key values of the last row of a page, the sort it was made for and the
resource; it is signed with HMAC-SHA256 so a forged or edited cursor is refused. Routers that
run in several processes must share ``cursor_secret``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from .._model import adapter_for

_SIGNATURE_BYTES = 16
_JSON_NATIVE = (int, str, bool)
MAX_CURSOR_LENGTH = 2048

PROCESS_SECRET = secrets.token_bytes(32)
"""The default signing key: random per process."""


class CursorError(ValueError):
    """A cursor that cannot be used; the message says why, for the client."""


class CursorCodec:
    """Encodes and decodes the cursors of one resource.

    Args:
        resource: what the cursor is for (a table name); a cursor of another resource is refused.
        secret: the HMAC key.
    """

    def __init__(self, resource: str, secret: bytes) -> None:
        self.resource = resource
        self.secret = secret

    def _sign(self, payload: bytes) -> bytes:
        return hmac.digest(self.secret, payload, hashlib.sha256)[:_SIGNATURE_BYTES]

    def encode(self, sort: str, values: Sequence[Any], types: Sequence[type[Any]]) -> str:
        """A cursor that continues after a row with these sort key values."""
        dumped = [
            v
            if v is None or type(v) in _JSON_NATIVE
            else adapter_for(t).dump_python(v, mode="json")
            for v, t in zip(values, types, strict=True)
        ]
        payload = json.dumps([self.resource, sort, dumped], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._sign(payload) + payload).decode().rstrip("=")

    def decode(self, cursor: str, sort: str, types: Sequence[type[Any]]) -> list[Any]:
        """The sort key values in a cursor; `CursorError` if it is malformed, forged or
        made for another resource or sort."""
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise CursorError("cursor is too long")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise CursorError("cursor is not valid base64") from None
        signature, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(payload)):
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
        try:
            return [
                None if v is None else adapter_for(t).validate_python(v, strict=False)
                for v, t in zip(values, types, strict=True)
            ]
        except ValidationError:
            raise CursorError("cursor is malformed") from None
