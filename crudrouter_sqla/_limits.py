"""Request body limits for the write routes: a body over the limit is refused with 413 before
it is read into memory."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import Message

DEFAULT_MAX_BODY_SIZE = 1024 * 1024
"""1 MiB: far above any row, far below what would hurt the server."""


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
                return await handler(request)

            return limited

    return LimitedRoute
