"""The route list of a `CRUDRouter`: declared routes replace or precede generated ones, and a
405 names every method the path serves.

A declared route whose path names its parameters otherwise than the generated routes of the
same path (``/tasks/{task_id}`` over ``/tasks/{item_id}``) renames theirs, so that the document
has one path: the generated routes are built again from how they were declared, with an
endpoint that takes the key under the new names.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, compile_path, get_name
from starlette.types import Receive, Scope, Send

from ..errors import ConfigurationError
from ._documented import carrying, shared_bodies, standalone

_PARAM = re.compile(r"\{[^}]*\}")
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_INHERITED = frozenset({"404", "409", "422", "503"})
"""The error responses a route declared over a generated one documents unless it says
otherwise: outcomes of the operation itself, whoever implements it. 412, 413 and 428 come from
checks only the generated endpoint (and its route class) makes."""

Build = Callable[..., None]
"""``CRUDRouter.add_api_route``: builds a route and appends it."""


def _shape(route: BaseRoute) -> tuple[str, frozenset[str]] | None:
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    methods = getattr(route, "methods", None) or ()
    # "/heroes/{item_id}" and "/heroes/{hero_id}" match the same requests.
    return _PARAM.sub("{}", path), frozenset(methods)


_OPTIONS = {
    name: parameter.default
    for name, parameter in inspect.signature(APIRoute.__init__).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
}
"""The options of `APIRoute` and their defaults."""


@functools.lru_cache(maxsize=4096)
def _compiled(path: str) -> tuple[Any, str, dict[str, Any]]:
    """Starlette's `compile_path`, once per path: the routes of one path share its pattern."""
    return compile_path(path)


def _declare(route: APIRoute, path: str, endpoint: Callable[..., Any], kwargs: Any) -> None:
    """Give ``route`` the attributes `APIRoute` derives from its options without reading the
    endpoint's parameters or building a field: what matching a path and including the route in
    another router read."""
    for name, default in _OPTIONS.items():
        value = kwargs.get(name, default)
        if value is not default:  # the others are read from the class (see `CRUDRoute`)
            setattr(route, name, value)
    route.path, route.endpoint = path, endpoint
    route.path_regex, route.path_format, route.param_convertors = _compiled(path)
    # As `APIRoute` keeps them: the tags and responses given, a copy of the dependencies.
    route.tags = route.tags or []
    route.dependencies = list(route.dependencies or [])
    route.responses = kwargs.get("responses") or {}
    route.methods = {method.upper() for method in route.methods or ["GET"]}
    route.name = get_name(endpoint) if route.name is None else route.name
    description = route.description or inspect.cleandoc(endpoint.__doc__ or "")
    route.description = description.split("\f")[0].strip()
    if isinstance(route.status_code, IntEnum):
        route.status_code = int(route.status_code)
    route.stream_item_type = None
    if "form_limits" in _OPTIONS and kwargs.get("form_limits") is None:
        route.form_limits = {}  # what APIRoute makes of None
    else:
        route.__dict__.pop("form_limits", None)  # APIRoute checks it when the route is completed


def _literal_siblings(route: APIRoute, routes: Iterable[BaseRoute]) -> list[dict[str, str]]:
    segments = route.path.split("/")
    if not any(_PARAM.fullmatch(segment) for segment in segments):
        return []
    found: list[dict[str, str]] = []
    for other in routes:
        path = getattr(other, "path", None)
        if other is route or not isinstance(path, str):
            continue
        others = path.split("/")
        if len(others) != len(segments):
            continue
        differ = [(m, t) for m, t in zip(segments, others, strict=True) if m != t]
        if not differ or any(not _PARAM.fullmatch(m) or "{" in t for m, t in differ):
            continue
        values = {mine[1:-1].split(":")[0]: theirs for mine, theirs in differ}
        if values not in found:
            found.append(values)
    return found


class CRUDRoute(APIRoute):
    """An `APIRoute` whose 405 lists, in ``Allow``, every method that the routes of its router
    serve on the same path, not only its own.

    Starlette answers a request whose path matches but whose method does not with the first
    route that matched the path, so a path served by several routes would otherwise advertise
    one method. A route with a path parameter steps aside where another route of its router
    has a literal segment in the parameter's place: ``PUT /heroes/export`` is a 405 from the
    export route, not a request for the hero ``export``.

    A route whose response model is given is completed on first use: its dependencies, its
    fields and its handler are built when it first answers, is documented or is read. Including
    a router builds every route again under the including router's context (FastAPI serves and
    documents those), so the router's own copy of a route is often never used, and building it
    was most of the time a router took to build.
    """

    siblings: RouteList | None = None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if isinstance(kwargs.get("response_model", DefaultPlaceholder(None)), DefaultPlaceholder):
            super().__init__(path, endpoint, **kwargs)
            return
        self.__dict__["_pending"] = (path, endpoint, kwargs)
        _declare(self, path, endpoint, kwargs)

    def __getattr__(self, name: str) -> Any:
        # Called only for an attribute not set yet: the first use completes the route.
        pending = self.__dict__.pop("_pending", None)
        if pending is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        path, endpoint, kwargs = pending
        APIRoute.__init__(self, path, endpoint, **kwargs)
        return getattr(self, name)

    @property
    def responses(self) -> dict[int | str, dict[str, Any]]:
        """The route's documented responses. Responses of a router's routes with the same
        body share it (see `SharedBody`): the first route of the router in the document that
        has a shared body carries its model, the others only refer to it."""
        own: dict[int | str, dict[str, Any]] = self.__dict__.get("_responses", {})
        carried = [body for body in shared_bodies(own) if self._carrier(body)]
        return carrying(own, carried) if carried else own

    @responses.setter
    def responses(self, value: dict[int | str, dict[str, Any]]) -> None:
        self.__dict__["_responses"] = value

    def _carrier(self, body: Any) -> bool:
        """Whether this route carries the model of ``body`` for the routes of its router."""
        if self.siblings is None:
            return True
        for route in self.siblings:
            if (
                isinstance(route, CRUDRoute)
                and route.include_in_schema
                and any(b is body for b in shared_bodies(route.__dict__.get("_responses", {})))
            ):
                return route is self
        return True

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.NONE:
            return match, child_scope
        params = child_scope.get("path_params", {})
        for literal in self._shadowed_by():
            if all(params.get(name) == value for name, value in literal.items()):
                # "/heroes/aggregate" is the aggregate route's path for every method, not the
                # item "aggregate": a PUT there is a 405 from that route, not a 422 from this.
                return Match.NONE, {}
        return match, child_scope

    def _shadowed_by(self) -> list[dict[str, str]]:
        """The path parameter values at which a route of the same router with a literal
        segment in their place (``/heroes/export`` for ``/heroes/{item_id}``) owns the path."""
        found = self.__dict__.get("_shadows")
        if found is None:
            found = [] if self.siblings is None else _literal_siblings(self, self.siblings)
            self.__dict__["_shadows"] = found
        return found

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


for _name, _default in _OPTIONS.items():
    # What a route declared but not completed reads for an option it was not given.
    if not hasattr(CRUDRoute, _name):
        setattr(CRUDRoute, _name, _default)


class RouteList(list[BaseRoute]):
    """A list of routes in which a route added by hand overrides the generated ones.

    Appending a route removes every generated route with the same path and a method in common,
    and places the new route before the remaining generated ones, so that ``/heroes/stats`` is
    matched before the generated ``/heroes/{item_id}``. Before such a route is built, `declare`
    renames the path parameters of the generated routes of its path to its own and gives it
    the name and error responses of the route it replaces.
    """

    def __init__(self, routes: Iterable[BaseRoute] = ()) -> None:
        super().__init__(routes)
        self._generated: set[int] = set()
        self._declared: dict[int, _Declared] = {}
        self._generating = False

    @property
    def is_generating(self) -> bool:
        """Whether routes appended now are the router's own (see `generating`)."""
        return self._generating

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
                    self._forget(old)
        first_generated = next((i for i, r in enumerate(self) if self.is_generated(r)), len(self))
        super().insert(first_generated, route)

    def remember(self, path: str, endpoint: Callable[..., Any], options: dict[str, Any]) -> None:
        """Note how the generated route just appended was declared, to build it again
        (``options`` is kept as it is: the caller hands it over)."""
        self._declared[id(self[-1])] = _Declared(path, endpoint, options)

    def declare(
        self,
        prefix: str,
        path: str,
        options: dict[str, Any],
        build: Build,
        moved: Callable[[str, str], None],
    ) -> dict[str, Any]:
        """Make way for the route declared by hand at ``prefix + path``; its options, completed.

        The generated routes of the same path that it does not replace are built again (with
        ``build``, the router's ``add_api_route``) under its path parameter names, in their
        places. It takes, from the generated route it replaces, the name (and so the operation
        id) unless ``operation_id``, ``name`` or ``generate_unique_id_function`` is given, and
        the 404, 409, 422 and 503 responses for the statuses it does not document itself.
        ``moved(name, path)`` is told, before any route is built, the new path of each name.

        Raises:
            ConfigurationError: a route declared earlier names the path's parameters otherwise;
                a new name is a parameter the generated routes take already; or a dependency of
                theirs reads a path parameter by the name it loses.
        """
        full = prefix + path
        names = _param_names(full)
        methods = {m.upper() for m in options.get("methods") or ["GET"]}
        same = [r for r in self if isinstance(r, APIRoute) and _same_path(r.path, full)]
        generated = [r for r in same if self.is_generated(r) and id(r) in self._declared]
        if not generated:
            return options
        for route in same:
            if not self.is_generated(route) and _param_names(route.path) != names:
                raise ConfigurationError(
                    f"{_shown(methods)} {full} names the parameters of a path that "
                    f"{_shown(route.methods)} {route.path} declares already; name them alike "
                    f"({route.path.removeprefix(prefix) or '/'}), since OpenAPI allows one "
                    f"name per path"
                )
        replaced = [r for r in generated if (r.methods or set()) & methods]
        self._rename([r for r in generated if r not in replaced], prefix, names, build, moved)
        return self._inherit(replaced, options, full, moved)

    def _rename(
        self,
        routes: list[APIRoute],
        prefix: str,
        names: list[str],
        build: Build,
        moved: Callable[[str, str], None],
    ) -> None:
        """Build ``routes`` again with their path parameters called ``names``, in their places
        (all of them, or, on a `ConfigurationError`, none)."""
        plans: list[tuple[APIRoute, _Declared, dict[str, str]]] = []
        for route in routes:
            declared = self._declared[id(route)]
            renames = {
                old: new for old, new in zip(_param_names(route.path), names, strict=True)
                if old != new
            }  # fmt: skip
            if renames:
                _check_free(route, declared, renames)
                plans.append((route, declared, renames))
        built: list[APIRoute] = []
        try:
            for route, declared, renames in plans:
                new_path = _with_names(declared.path, renames)
                moved(route.name, prefix + new_path)
                endpoint = renamed_endpoint(declared.endpoint, renames)
                with self.generating():
                    build(new_path, endpoint, **declared.options)
                new = self.pop()
                assert isinstance(new, APIRoute)
                built.append(new)
                _check_dependencies(route, new, renames)
        except BaseException:
            for route in routes:
                moved(route.name, route.path)
            for new in built:
                self._forget(new)
            raise
        for (route, _, _), new in zip(plans, built, strict=True):
            index = next(i for i, r in enumerate(self) if r is route)
            self[index] = new
            self._forget(route)

    def _inherit(
        self,
        replaced: list[APIRoute],
        options: dict[str, Any],
        full: str,
        moved: Callable[[str, str], None],
    ) -> dict[str, Any]:
        """``options`` of a declared route completed from the generated routes it replaces."""
        options = dict(options)
        named = ("operation_id", "name", "generate_unique_id_function")
        if len(replaced) == 1 and not any(_given(options.get(key)) for key in named):
            options["name"] = replaced[0].name
            moved(replaced[0].name, full)
        own: dict[int | str, Any] = dict(options.get("responses") or {})
        statuses = {str(code) for code in own}
        inherited: dict[int | str, Any] = {}
        for route in replaced:
            generated = self._declared[id(route)].options.get("responses") or {}
            for code, response in generated.items():
                if str(code) in _INHERITED and str(code) not in statuses:
                    inherited.setdefault(code, standalone(response))
        if inherited:
            options["responses"] = {**inherited, **own}
        return options

    def _forget(self, route: BaseRoute) -> None:
        self._generated.discard(id(route))
        self._declared.pop(id(route), None)


@dataclass(frozen=True)
class _Declared:
    """How the router declared a generated route: the arguments of ``add_api_route``."""

    path: str
    endpoint: Callable[..., Any]
    options: dict[str, Any]


def renamed_endpoint(endpoint: Callable[..., Any], renames: dict[str, str]) -> Callable[..., Any]:
    """``endpoint`` taking the parameters ``renames`` names (old name to new) under their new
    names: the generated endpoints read the key from their keyword arguments by name."""
    signature = inspect.signature(endpoint)
    back = [(new, old) for old, new in renames.items()]

    async def route(**kwargs: Any) -> Any:
        # All at once: names may be swapped (``/{b}/{a}`` over ``/{a}/{b}``).
        kwargs.update({old: kwargs.pop(new) for new, old in back})
        return await endpoint(**kwargs)

    params = [p.replace(name=renames.get(p.name, p.name)) for p in signature.parameters.values()]
    route.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    route.__name__ = route.__qualname__ = endpoint.__name__
    return route


def _param_names(path: str) -> list[str]:
    """The path parameters of ``path`` in order (``{id:int}`` is ``id``)."""
    return [match.group(0)[1:-1].partition(":")[0] for match in _PARAM.finditer(path)]


def _with_names(path: str, renames: dict[str, str]) -> str:
    """``path`` with its path parameters renamed, their convertors kept."""

    def rename(match: re.Match[str]) -> str:
        name, colon, convertor = match.group(0)[1:-1].partition(":")
        return f"{{{renames.get(name, name)}{colon}{convertor}}}"

    return _PARAM.sub(rename, path)


def _same_path(path: str, other: str) -> bool:
    return _PARAM.sub("{}", path) == _PARAM.sub("{}", other)


def _given(value: Any) -> bool:
    return value is not None and not isinstance(value, DefaultPlaceholder)


def _shown(methods: Iterable[str] | None) -> str:
    return ", ".join(sorted(methods or ()))


def _parameters(dependant: Any) -> set[str]:
    """The names (and aliases) of the request parameters a dependency tree reads, path
    parameters apart."""
    names: set[str] = set()
    todo = [dependant]
    while todo:
        current = todo.pop()
        for field in (
            *current.query_params,
            *current.header_params,
            *current.cookie_params,
            *current.body_params,
        ):
            names |= {field.name, field.alias}
        todo.extend(current.dependencies)
    return names


def _check_free(route: APIRoute, declared: _Declared, renames: dict[str, str]) -> None:
    """The new names must not be taken by another parameter of the generated route."""
    taken = set(inspect.signature(declared.endpoint).parameters) | _parameters(route.dependant)
    clash = sorted(set(renames.values()) & (taken - set(renames)))
    if clash:
        new = clash[0]
        old = next(o for o, n in renames.items() if n == new)
        raise ConfigurationError(
            f"{route.name} ({_shown(route.methods)} {route.path}) takes a parameter {new!r} "
            f"already, so its path parameter {old!r} cannot be renamed {new!r} after a route "
            f"declared on the same path; name that route's parameter otherwise, such as "
            f"{{{old}}}"
        )


def _check_dependencies(old: APIRoute, new: APIRoute, renames: dict[str, str]) -> None:
    """A dependency that read a path parameter by its old name would now read it from the
    query string: refused, rather than a 422 on every request."""
    lost = sorted(set(renames) & _parameters(new.dependant))
    if lost:
        raise ConfigurationError(
            f"a dependency of {old.name} ({_shown(old.methods)} {old.path}) reads the path "
            f"parameter {lost[0]!r}, which a route declared on the same path names "
            f"{renames[lost[0]]!r}; name the dependency's parameter {renames[lost[0]]!r}, or "
            f"declare the route with {{{lost[0]}}}"
        )
