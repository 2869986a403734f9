"""The query parameters of the list and bulk-write routes: one Pydantic model, validated by the
route in one pass and documented as separate parameters.

FastAPI can take such a model itself (``Annotated[Model, Query()]``), but it then keeps the
model's fields in a cache of 128 models: an app with more list routes than that rebuilds them
on requests and fails to build its OpenAPI document (``KeyError`` in ``get_openapi``). So the
route validates the model itself, and its parameters are written into the document from the
model's JSON schema, as FastAPI would write them, with three differences that make a generated
client read well: a field marked `Undocumented` (a second spelling of a filter) stays out of the
document; a field marked `CommaSeparated` is an array in form style, not exploded
(``?id__in=1,2``), so a client takes a list; and an enum the read schema documents is a
``$ref`` to its component, so a client has one enum type, not one per parameter.
"""

from __future__ import annotations

import copy
import datetime
import functools
import inspect
import json
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import (
    validation_error_definition,
    validation_error_response_definition,
)
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo
from starlette.requests import Request

from .._query._spec import is_sequence, query_error
from ._params import param
from ._resource import Endpoint

_REF_PREFIX = "#/$defs/"
_COMPONENTS = "#/components/schemas/"


class Undocumented:
    """Marks a query-model field the route takes and the document leaves out: a second
    spelling of a documented parameter (``name__eq`` beside ``name``)."""


class CommaSeparated:
    """Marks a query-model field documented as an array in form style, not exploded: the
    values joined by commas in one parameter (``?id__in=1,2``), as the route reads them."""


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with every ``$ref`` into ``defs`` replaced by the definition itself."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return {**_inline(defs[ref.removeprefix(_REF_PREFIX)], defs), **rest}
        return {k: _inline(v, defs) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    return schema


def _key(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, default=str)


def _shared(schema: Any, components: dict[str, str]) -> Any:
    """``schema`` with every sub-schema that equals a component (by `_key`) replaced by a
    ``$ref`` to it."""
    if isinstance(schema, dict):
        name = components.get(_key(schema))
        if name is not None:
            return {"$ref": _COMPONENTS + name}
        return {k: _shared(v, components) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_shared(item, components) for item in schema]
    return schema


def _enum_components(schema: type[BaseModel] | None) -> dict[str, str]:
    """The enums ``schema`` (the read schema) documents, keyed by their JSON schema: the
    document holds them as components of these names, since every router documents its read
    schema."""
    if schema is None or not _has_enum(schema, set()):
        return {}
    defs = schema.model_json_schema(mode="serialization").get("$defs", {})
    return {_key(d): name for name, d in defs.items() if "enum" in d}


def _has_enum(annotation: Any, seen: set[Any]) -> bool:
    """Whether an enum appears in ``annotation``, or in a model it names (at any depth): only
    then is the read schema's JSON schema worth writing to find them."""
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return True
        if issubclass(annotation, BaseModel):
            if annotation in seen:
                return False
            seen.add(annotation)
            return any(_has_enum(f.annotation, seen) for f in annotation.model_fields.values())
    return any(_has_enum(arg, seen) for arg in typing.get_args(annotation))


def _validation_error_schema() -> dict[str, Any]:
    """FastAPI's ``HTTPValidationError`` schema, with its items written out (the document holds
    that component only when some route has FastAPI-declared parameters)."""
    schema: dict[str, Any] = copy.deepcopy(dict(validation_error_response_definition))
    schema["properties"]["detail"]["items"] = copy.deepcopy(validation_error_definition)
    return schema


VALIDATION_ERROR: dict[str, Any] = {
    "description": "Validation Error",
    "content": {"application/json": {"schema": _validation_error_schema()}},
}
"""The documented 422 of a route that validates its query parameters itself."""


class QueryModel:
    """A route's query parameters as one model: validated per request, documented once.

    The model is built on the route's first request. The documented parameters come from the
    JSON schema of the fields: a parameter whose field is made only of plain types (no class of
    an app, no function) is documented once for every route that takes the same one, so the
    paging, sorting and counting parameters most list routes share are written once per app.
    """

    def __init__(
        self, name: str, fields: dict[str, Any], shares: type[BaseModel] | None = None
    ) -> None:
        """``fields`` are the model's, as `pydantic.create_model` takes them (``name`` the
        model's); ``shares`` is the read schema, whose enums the parameters refer to (see
        `_enum_components`)."""
        self.name = name
        self.fields = fields
        self.shares = shares
        aliases = {key: _alias(key, field) for key, (_, field) in fields.items()}
        self.names = frozenset(aliases.values())
        self.repeatable = frozenset(
            aliases[key] for key, (annotation, _) in fields.items() if is_sequence(annotation)
        )
        self.accepted_of: Callable[[], frozenset[str]] | None = None
        """Gives every query parameter the route takes, its dependencies' too (set by the
        router; the model's own names until then)."""
        self._accepted: frozenset[str] | None = None

    @functools.cached_property
    def model(self) -> type[BaseModel]:
        """The model that validates a request's parameters."""
        return _model(self.name, self.fields)

    def refuse_unknown(self, request: Request, ignored: frozenset[str]) -> None:
        """A 422 for a query parameter the route does not take (or ``ignored`` lets
        through), and for one given twice that is not a list."""
        if not request.scope.get("query_string"):
            return
        accepted = self._accepted
        if accepted is None:
            resolved = self.names if self.accepted_of is None else self.accepted_of()
            accepted = self._accepted = resolved | self.names | ignored
        seen: set[str] = set()
        for name, _ in request.query_params.multi_items():
            if name not in accepted:
                allowed = ", ".join(sorted(accepted))
                raise query_error(name, f"unknown query parameter; allowed: {allowed}")
            if name in seen and name not in self.repeatable:
                raise query_error(name, "given more than once; give it once")
            seen.add(name)

    def openapi_extra(self) -> dict[str, Any]:
        """The route's ``openapi_extra``: its parameters, which FastAPI merges into the
        operation."""
        return {"parameters": self._parameters()}

    def _parameters(self) -> list[dict[str, Any]]:
        components = _enum_components(self.shares)
        shared = repr(sorted(components.items()))
        documented = [
            key for key, (annotation, _) in self.fields.items() if _documented(annotation)
        ]
        keys = {key: _doc_key(key, self.fields[key], shared) for key in documented}
        missing = [key for key in documented if keys[key] is None or keys[key] not in _DOCUMENTED]
        if missing:
            written = self._written({key: self.fields[key] for key in missing}, components)
            for key in missing:
                found = keys[key]
                if found is not None and len(_DOCUMENTED) < _MAX_DOCUMENTED:
                    _DOCUMENTED[found] = written[key]
        else:
            written = {}
        # Each route its own parameters; their schemas, which no one writes to, are shared.
        return [
            dict(written[key] if key in written else _DOCUMENTED[keys[key]])  # type: ignore[index]
            for key in documented
        ]

    def _written(
        self, fields: dict[str, Any], components: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        """The documented parameter of each of ``fields``, from the JSON schema of a model of
        them."""
        model = _model(f"{self.name}_doc", fields)
        schema = model.model_json_schema(by_alias=True, mode="validation")
        defs = schema.get("$defs", {})
        required = set(schema.get("required", ()))
        parameters: dict[str, dict[str, Any]] = {}
        for name, field in model.model_fields.items():
            alias = field.alias or name
            prop = _shared(_inline(schema["properties"][alias], defs), components)
            prop["title"] = field.title or alias.title().replace("_", " ")
            parameter: dict[str, Any] = {
                "name": alias,
                "in": "query",
                "required": alias in required,
                "schema": prop,
            }
            if any(isinstance(m, CommaSeparated) for m in field.metadata):
                parameter["style"] = "form"
                parameter["explode"] = False
            if field.description:
                parameter["description"] = field.description
            if field.deprecated:
                parameter["deprecated"] = True
            parameters[name] = parameter
        return parameters

    def parse(self, request: Request) -> Any:
        """The request's query parameters, validated; a 422 names each bad one."""
        params = request.query_params
        values: dict[str, Any] = {}
        for key in params:
            if key in self.repeatable:
                values[key] = params.getlist(key)
            elif key in self.names:
                values[key] = params[key]
        try:
            return self.model.model_validate(values)
        except ValidationError as exc:
            errors = [
                {**error, "loc": ("query", *error["loc"])}
                for error in exc.errors(include_url=False)
            ]
            raise RequestValidationError(errors) from None


def _alias(key: str, field: Any) -> str:
    """The name a client gives a query-model field."""
    alias = field.alias if isinstance(field, FieldInfo) else None
    return alias or key


def _documented(annotation: Any) -> bool:
    """Whether a query-model field is documented (not marked `Undocumented`)."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return True
    return not any(isinstance(m, Undocumented) for m in typing.get_args(annotation)[1:])


def _model(name: str, fields: dict[str, Any]) -> type[BaseModel]:
    definitions: dict[str, Any] = {
        key: (annotation, copy.copy(field)) for key, (annotation, field) in fields.items()
    }
    model: type[BaseModel] = create_model(
        name, __config__=ConfigDict(extra="ignore"), **definitions
    )
    return model


_PLAIN: frozenset[Any] = frozenset(
    {int, str, float, bool, bytes, type(None), list, set, frozenset, tuple, dict, Decimal, UUID}
    | {datetime.datetime, datetime.date, datetime.time, datetime.timedelta}
)
_DOCUMENTED: dict[str, dict[str, Any]] = {}
"""Documented parameters by `_doc_key`: the same field documents the same parameter."""
_MAX_DOCUMENTED = 4096


def _doc_key(name: str, definition: tuple[Any, Any], shared: str) -> str | None:
    """A key that names a field's documented parameter, or ``None`` when the field holds
    something whose text does not tell it apart from another (a class of an app, a function,
    an object that prints its address)."""
    annotation, field = definition
    if not _plain(annotation):
        return None
    key = repr((name, annotation, field, shared))
    return None if " at 0x" in key else key


def _plain(annotation: Any) -> bool:
    """Whether ``annotation`` is made of builtin types and this package's own."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is None:
        if isinstance(annotation, type):
            return annotation in _PLAIN or annotation.__module__.startswith(_PACKAGE)
        return not callable(annotation)
    if origin is typing.Literal:
        return all(isinstance(a, str | int | bool) or a is None for a in args)
    if origin is typing.Annotated:
        extras = args[1:]
        return _plain(args[0]) and all(not isinstance(m, type) and not callable(m) for m in extras)
    if origin not in (typing.Union, types.UnionType) and not _plain(origin):
        return False
    return all(_plain(a) for a in args)


_PACKAGE = __name__.split(".")[0] + "."

_ATTRIBUTE = "__crudrouter_sqla_query__"


def with_query(endpoint: Endpoint, query: QueryModel) -> Endpoint:
    """Mark ``endpoint`` as validating ``query`` itself (see `query_of`)."""
    setattr(endpoint, _ATTRIBUTE, query)
    return endpoint


def query_of(endpoint: Any) -> QueryModel | None:
    """The query model an endpoint validates itself, so that the router documents its
    parameters (``openapi_extra``) and accepts their names."""
    query: QueryModel | None = getattr(endpoint, _ATTRIBUTE, None)
    return query


class QueryAllowlist:
    """The query parameters a route without a query model accepts: those its dependencies
    declare and those the router lets through (``ignored_query_params``). ``names_of`` gives
    them on first use, once FastAPI has read the route's dependencies."""

    __slots__ = ("_names", "names_of")

    def __init__(self) -> None:
        self._names: frozenset[str] | None = None
        self.names_of: Callable[[], frozenset[str]] = frozenset

    @property
    def names(self) -> frozenset[str]:
        """The accepted names."""
        if self._names is None:
            self._names = self.names_of()
        return self._names


def refusing_unknown_query(endpoint: Endpoint, allowlist: QueryAllowlist) -> Endpoint:
    """``endpoint`` answering 422 for a query parameter it does not take: an option the router
    lacks (``?on_conflict=`` without upserts) or a misspelt one is refused, never ignored."""
    signature = inspect.signature(endpoint)
    wants_request = "request" in signature.parameters

    async def route(**kwargs: Any) -> Any:
        request: Request = kwargs["request"] if wants_request else kwargs.pop("request")
        refuse_unknown(request, allowlist)
        return await endpoint(**kwargs)

    params = list(signature.parameters.values())
    if not wants_request:
        params = [param("request", Request), *params]
    route.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    route.__name__ = route.__qualname__ = endpoint.__name__
    return route


def refuse_unknown(request: Request, allowlist: QueryAllowlist) -> None:
    """A 422 for a query parameter of the request that ``allowlist`` does not name."""
    if request.scope.get("query_string"):
        for name in request.query_params:
            if name not in allowlist.names:
                allowed = ", ".join(sorted(allowlist.names)) or "none"
                raise query_error(name, f"unknown query parameter; allowed: {allowed}")
