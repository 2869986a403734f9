"""Regular expressions for the list route's string parameters, built once per router from its
allowlists. They go into the OpenAPI document as ``pattern``, so a client (or a generator of
requests) can tell which values the route accepts, and the route checks values against the
same expressions, so the document and the route agree.

The expressions use only syntax that Python, ECMAScript and Rust read alike: ``(?:...)``,
classes, counted repetition and backslash escapes of punctuation.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from .._model._schemas import NO_NUL

__all__ = ["NO_NUL", "alternation", "escape", "integer_range", "scalar_value"]

_SPECIAL = set("\\.^$*+?()[]{}|/")

_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = "[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]{1,6})?)?"
_ZONE = "(?:Z|[+-][0-9]{2}:[0-9]{2})?"
_NUMBER = "-?(?:0|[1-9][0-9]{0,30})(?:\\.[0-9]{1,30})?"
_UNBOUNDED_INT = "-?(?:0|[1-9][0-9]{0,17})"


def escape(text: str) -> str:
    """``text`` as a literal in every regex dialect (unlike `re.escape`, which escapes ``-``)."""
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def alternation(words: Iterable[str]) -> str:
    """One of the words, literally."""
    return "(?:" + "|".join(escape(w) for w in words) + ")"


def _same_length(low: str, high: str) -> list[str]:
    """Expressions for the decimal numbers from ``low`` to ``high``, both of one length."""
    if low == high:
        return [low]
    if len(low) == 1:
        return [f"[{low}-{high}]"]
    if low[0] == high[0]:
        return [low[0] + p for p in _same_length(low[1:], high[1:])]
    rest = len(low) - 1
    parts: list[str] = []
    first = int(low[0])
    if low[1:] != "0" * rest:
        parts += [low[0] + p for p in _same_length(low[1:], "9" * rest)]
        first += 1
    last = int(high[0])
    tail: list[str] = []
    if high[1:] != "9" * rest:
        tail = [high[0] + p for p in _same_length("0" * rest, high[1:])]
        last -= 1
    if first <= last:
        digit = str(first) if first == last else f"[{first}-{last}]"
        parts.append(digit + ("[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"))
    return parts + tail


def _non_negative(low: int, high: int) -> list[str]:
    parts: list[str] = []
    for length in range(len(str(low)), len(str(high)) + 1):
        start = max(low, 0 if length == 1 else 10 ** (length - 1))
        end = min(high, 10**length - 1)
        if start <= end:
            parts += _same_length(str(start), str(end))
    return parts


def integer_range(low: int, high: int) -> str:
    """An expression for the decimal integers from ``low`` to ``high`` (no sign on positive
    numbers, no leading zeros)."""
    parts: list[str] = []
    if high >= 0:
        parts += _non_negative(max(low, 0), high)
    if low < 0:
        negative = _non_negative(max(1, -high) if high < 0 else 1, -low)
        parts.append("-(?:" + "|".join(negative) + ")")
    return "(?:" + "|".join(parts) + ")"


def scalar_value(
    value_type: type[Any], bounds: Mapping[str, Any], text: str, exact_integers: bool = True
) -> str:
    """An expression for one value of a column of ``value_type`` as written in a URL.

    ``text`` is the expression for text values (it differs between comma-separated lists and
    groups, where text may be quoted). With ``exact_integers``, integers are those the column
    holds; without, any decimal integer (groups compare them as numbers, in or out of range).
    """
    if value_type is bool:
        return "(?:true|false)"
    if issubclass(value_type, enum.Enum):
        return alternation(str(member.value) for member in value_type)
    if issubclass(value_type, str):
        return text
    if issubclass(value_type, int):
        if not exact_integers:
            return "-?[0-9]+"
        if "ge" in bounds:
            return integer_range(int(bounds["ge"]), int(bounds["le"]))
        return _UNBOUNDED_INT
    if issubclass(value_type, float | decimal.Decimal):
        return _NUMBER
    if issubclass(value_type, uuid.UUID):
        return _UUID
    if issubclass(value_type, datetime.datetime):
        return f"{_DATE}[T ]{_TIME}{_ZONE}"
    if issubclass(value_type, datetime.date):
        return _DATE
    if issubclass(value_type, datetime.time):
        return _TIME + _ZONE
    return '[^,()"\\x00]*'
