"""Request body limits for the write routes: a body over the limit is refused with 413 before
it is read into memory."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

DEFAULT_MAX_BODY_SIZE = 1024 * 1024
"""1 MiB: far above any row, far below what would hurt the server."""


_FASTAPI_BODY_ERROR = "There was an error parsing the body"


def _body_error(message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "json_invalid", "loc": ("body",), "msg": message, "input": None}]
    )


def _encodable(value: Any) -> Any:
    """The errors with every string made encodable as UTF-8 (lone surrogates escaped), so the
    422 that echoes them can be written."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_encodable(v) for v in value)
    return value


def _detail(limit: int) -> str:
    return f"Request body is larger than the limit of {limit} bytes"


def limited_route_class(limit: int) -> type[APIRoute]:
    """An `APIRoute` whose requests may carry at most ``limit`` body bytes."""

    class LimitedRoute(APIRoute):
        max_body_bytes = limit

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
                        # FastAPI passes an HTTPException raised while reading the body through.
                        raise HTTPException(status_code=413, detail=_detail(limit))
                    return message

                request._receive = counting_receive
                try:
                    return await handler(request)
                except StarletteHTTPException as exc:
                    if exc.status_code == 400 and exc.detail == _FASTAPI_BODY_ERROR:
                        # FastAPI's 400 for a body it cannot decode; the routes document 422.
                        raise _body_error("The body is not valid UTF-8 JSON") from exc
                    raise
                except RequestValidationError as exc:
                    raise RequestValidationError(_encodable(exc.errors())) from exc

            return limited

    return LimitedRoute
