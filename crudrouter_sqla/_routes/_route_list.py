"""The route list of a `CRUDRouter`: declared routes replace or precede generated ones."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from starlette.routing import BaseRoute

_PARAM = re.compile(r"\{[^}]*\}")


def _shape(route: BaseRoute) -> tuple[str, frozenset[str]] | None:
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    methods = getattr(route, "methods", None) or ()
    # "/heroes/{item_id}" and "/heroes/{hero_id}" match the same requests.
    return _PARAM.sub("{}", path), frozenset(methods)


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
