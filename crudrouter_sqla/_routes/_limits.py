"""Request bodies of the write routes: a body over the limit is refused with 413 before it is
read into memory, and a JSON body is parsed once here, so that numbers no JSON value can hold
(``1e400``, and Python's lenient ``NaN``, ``Infinity``, ``-Infinity``) are a 422 naming the
field rather than a value that breaks the error response, and a body nested deeper than the
limit is a 422 before the parser, the validation and the error response recurse into it."""

from __future__ import annotations

import email.message
import functools
import itertools
import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from .._query import check_positive, validation_error
from ..errors import ConfigurationError
from ._route_list import CRUDRoute

DEFAULT_MAX_BODY_SIZE = 1024 * 1024
"""1 MiB: far above any row, far below what would hurt the server."""

DEFAULT_MAX_BODY_DEPTH = 32
"""Levels of arrays and objects a JSON body may nest (the body itself is level 1): far above
any row with its nested children, far below where parsing, validating and reporting a body
recurse deep enough to fail."""

MAX_BODY_DEPTH = 128
"""The most ``max_body_depth`` may allow: the JSON parser, Pydantic and the 422 that echoes the
input recurse once per level; Pydantic refuses to serialize past about 255 levels and Python's
stack gives out past a few hundred."""

# A JSON string, or an unterminated one up to the end: brackets inside it are text. The loop
# unrolled (``[^"\\]*`` between escapes) keeps the regex engine from backtracking.
_STRING = re.compile(r'"[^"\\]*(?:\\.?[^"\\]*)*(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


_FASTAPI_BODY_ERROR = "There was an error parsing the body"


def _not_json() -> RequestValidationError:
    return validation_error(("body",), "The body is not valid UTF-8 JSON", kind="json_invalid")


def _encodable(value: Any) -> Any:
    """The errors with every value made encodable as strict JSON: lone surrogates escaped,
    non-finite floats spelled as strings, so the 422 that echoes them can be written."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_encodable(v) for v in value)
    return value


class _NonFinite(str):
    """A number that parsed to infinity or NaN, kept as its spelling until it is reported."""


def _parse_float(spelling: str) -> Any:
    value = float(spelling)
    return value if math.isfinite(value) else _NonFinite(spelling)


def _find_non_finite(value: Any, path: tuple[Any, ...]) -> tuple[tuple[Any, ...], str] | None:
    if isinstance(value, _NonFinite):
        return path, str(value)
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _find_non_finite(item, (*path, key))
        if found is not None:
            return found
    return None


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body with this content type as JSON."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether the JSON in ``text`` nests arrays and objects deeper than ``limit`` levels.

    A scan without recursion, at the speed of the regex engine and of ``itertools``: strings
    are cut out, and the depth is the running sum of the brackets left. A body that is not JSON
    may count deeper than the parser would get before it stops, never shallower.
    """
    if text.count("[") + text.count("{") <= limit:  # too few brackets to nest deeper
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if brackets.count("[") + brackets.count("{") <= limit:
        return False
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets))) > limit


def _too_deep(limit: int) -> RequestValidationError:
    return validation_error(
        ("body",), f"The body is nested deeper than {limit} levels", kind="json_too_deep"
    )


def check_body_depth(max_body_depth: int) -> int:
    """``max_body_depth``, or `ConfigurationError` naming the range it must be in."""
    check_positive("max_body_depth", max_body_depth)
    if max_body_depth > MAX_BODY_DEPTH:
        raise ConfigurationError(
            f"max_body_depth must be between 1 and {MAX_BODY_DEPTH}, got {max_body_depth!r}"
        )
    return max_body_depth


def parse_json_body(body: bytes, max_depth: int = DEFAULT_MAX_BODY_DEPTH) -> Any:
    """The JSON value of a request body; a 422 naming the field that holds a number no
    float can hold, saying where the body stops being JSON, or that it nests deeper than
    ``max_depth`` levels."""
    found: list[bool] = []

    def non_finite(spelling: str) -> _NonFinite:
        found.append(True)
        return _NonFinite(spelling)

    def parse_float(spelling: str) -> Any:
        value = _parse_float(spelling)
        if isinstance(value, _NonFinite):
            found.append(True)
        return value

    try:
        # Decoded as json.loads decodes bytes (UTF-8, -16 or -32), so that the depth is counted
        # in the characters the parser reads.
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        if nested_deeper_than(text, max_depth):
            raise _too_deep(max_depth)
        value = json.loads(text, parse_constant=non_finite, parse_float=parse_float)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from None
    except ValueError:  # not UTF-8, or an integer with more digits than Python reads
        raise _not_json() from None
    if found:
        where = _find_non_finite(value, ("body",))
        assert where is not None
        loc, spelling = where
        raise validation_error(loc, "Input should be a finite number", spelling, "finite_number")
    return value


def _detail(limit: int) -> str:
    return f"Request body is larger than the limit of {limit} bytes"


def limited_route_class(
    limit: int, max_body_depth: int = DEFAULT_MAX_BODY_DEPTH
) -> type[CRUDRoute]:
    """A route whose requests may carry at most ``limit`` body bytes (413), with JSON bodies
    parsed strictly and nested at most ``max_body_depth`` levels (422; see `parse_json_body`).

    Raises:
        ConfigurationError: ``max_body_depth`` is not an integer from 1 to `MAX_BODY_DEPTH`.
    """
    return _limited_route_class(limit, check_body_depth(max_body_depth))


@functools.lru_cache(maxsize=256)
def _limited_route_class(limit: int, depth: int) -> type[CRUDRoute]:
    """One class per pair of limits: the routers of the same limits share it."""

    class LimitedRoute(CRUDRoute):
        max_body_bytes = limit
        max_body_depth = depth

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def limited(request: Request) -> Response:
                declared = request.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    return JSONResponse({"detail": _detail(limit)}, status_code=413)
                receive = request.receive
                seen = 0

                async def counting_receive() -> Message:
                    nonlocal seen
                    message = await receive()
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        raise HTTPException(status_code=413, detail=_detail(limit))
                    return message

                request._receive = counting_receive
                try:
                    body = await request.body()
                    if body and _is_json(request.headers.get("content-type")):
                        # FastAPI reads the parsed value from here instead of parsing again.
                        request._json = parse_json_body(body, depth)
                    return await handler(request)
                except StarletteHTTPException as exc:
                    if exc.status_code == 400 and exc.detail == _FASTAPI_BODY_ERROR:
                        # FastAPI's 400 for a body it cannot decode; the routes document 422.
                        raise _not_json() from exc
                    raise
                except RequestValidationError as exc:
                    raise RequestValidationError(_encodable(exc.errors())) from exc

            return limited

    return LimitedRoute
