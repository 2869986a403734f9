"""The route list of a `CRUDRouter`: declared routes replace or precede generated ones, and a
405 names every method the path serves."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

_PARAM = re.compile(r"\{[^}]*\}")
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _shape(route: BaseRoute) -> tuple[str, frozenset[str]] | None:
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    methods = getattr(route, "methods", None) or ()
    # "/heroes/{item_id}" and "/heroes/{hero_id}" match the same requests.
    return _PARAM.sub("{}", path), frozenset(methods)


class CRUDRoute(APIRoute):
    """An `APIRoute` whose 405 lists, in ``Allow``, every method that the routes of its router
    serve on the same path, not only its own.

    Starlette answers a request whose path matches but whose method does not with the first
    route that matched the path, so a path served by several routes would otherwise advertise
    one method.
    """

    siblings: RouteList | None = None

    def allowed_methods(self) -> list[str]:
        """The methods the router serves on this route's path, in a stable order."""
        shape = _shape(self)
        methods: set[str] = set(self.methods or ())
        if shape is not None and self.siblings is not None:
            for route in self.siblings:
                other = _shape(route)
                if other is not None and other[0] == shape[0]:
                    methods |= other[1]
        known = [m for m in _METHOD_ORDER if m in methods]
        return known + sorted(methods - set(_METHOD_ORDER))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            headers = {"Allow": ", ".join(self.allowed_methods())}
            if "app" in scope:
                raise HTTPException(status_code=405, headers=headers)
            response = PlainTextResponse("Method Not Allowed", status_code=405, headers=headers)
            await response(scope, receive, send)
            return
        await super().handle(scope, receive, send)


class RouteList(list[BaseRoute]):
    """A list of routes in which a route added by hand overrides the generated ones.

    Appending a route removes every generated route with the same path and a method in common,
    and places the new route before the remaining generated ones, so that ``/heroes/stats`` is
    matched before the generated ``/heroes/{item_id}``.
    """

    def __init__(self, routes: Iterable[BaseRoute] = ()) -> None:
        super().__init__(routes)
        self._generated: set[int] = set()
        self._generating = False

    @contextmanager
    def generating(self) -> Iterator[None]:
        """Within this block, appended routes are the router's own generated routes."""
        self._generating = True
        try:
            yield
        finally:
            self._generating = False

    def is_generated(self, route: BaseRoute) -> bool:
        """Whether the router generated this route (and it has not been overridden)."""
        return id(route) in self._generated

    def append(self, route: BaseRoute) -> None:
        if isinstance(route, CRUDRoute):
            route.siblings = self
        if self._generating:
            super().append(route)
            self._generated.add(id(route))
            return
        shape = _shape(route)
        if shape is not None:
            path, methods = shape
            for old in [r for r in self if self.is_generated(r)]:
                old_shape = _shape(old)
                if old_shape and old_shape[0] == path and old_shape[1] & methods:
                    self.remove(old)
                    self._generated.discard(id(old))
        first_generated = next((i for i, r in enumerate(self) if self.is_generated(r)), len(self))
        super().insert(first_generated, route)
