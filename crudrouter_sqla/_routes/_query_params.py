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
import inspect
import json
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import (
    validation_error_definition,
    validation_error_response_definition,
)
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from .._query._spec import model_query_names, query_error
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
    """A route's query parameters as one model: validated per request, documented once."""

    def __init__(self, model: type[BaseModel], shares: type[BaseModel] | None = None) -> None:
        """``shares`` is the read schema, whose enums the parameters refer to (see
        `_enum_components`)."""
        self.model = model
        self.shares = shares
        self.names, self.repeatable = model_query_names(model)
        self.accepted_of: Callable[[], frozenset[str]] | None = None
        """Gives every query parameter the route takes, its dependencies' too (set by the
        router; the model's own names until then)."""
        self._accepted: frozenset[str] | None = None

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
        schema = self.model.model_json_schema(by_alias=True, mode="validation")
        defs = schema.get("$defs", {})
        required = set(schema.get("required", ()))
        components = _enum_components(self.shares)
        parameters = []
        for name, field in self.model.model_fields.items():
            if any(isinstance(m, Undocumented) for m in field.metadata):
                continue
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
            parameters.append(parameter)
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
        if request.scope.get("query_string"):
            for name in request.query_params:
                if name not in allowlist.names:
                    allowed = ", ".join(sorted(allowlist.names)) or "none"
                    raise query_error(name, f"unknown query parameter; allowed: {allowed}")
        return await endpoint(**kwargs)

    params = list(signature.parameters.values())
    if not wants_request:
        params = [param("request", Request), *params]
    route.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    route.__name__ = route.__qualname__ = endpoint.__name__
    return route
