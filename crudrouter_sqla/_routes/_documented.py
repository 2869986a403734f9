"""The types a generated route hands FastAPI (its response model and its body), wrapped so that
FastAPI validates and documents them exactly as the types themselves but does not walk them.

To name the models of its document, FastAPI walks every model a route mentions, and every model
those mention, building a `TypeAdapter` for each field on the way (twice: once to name the models
and once to list them for Pydantic). Pydantic then finds the same models again from the routes'
own schemas. A wrapped type is not a model to that walk, so it stops there; Pydantic's core
schema of the wrapper is the type's own, so validation, serialization and every schema in the
document (names, ``$ref`` and all) are unchanged. An app of many routers starts in about half
the time of the walk.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema


class _Documented:
    """A type whose Pydantic schema is that of `annotation`."""

    __slots__ = ()
    annotation: ClassVar[Any]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler(cls.annotation)


def documented(annotation: Any) -> Any:
    """A type that Pydantic validates, serializes and documents as ``annotation``; ``None``
    (no response body) stays ``None``."""
    if annotation is None:
        return None
    name = getattr(annotation, "__name__", "Documented")
    return type(name, (_Documented,), {"__slots__": (), "annotation": annotation})


class SharedBody(dict[str, Any]):
    """The ``content`` of a route's error responses, one object for all of them: a copy of
    the responses (FastAPI copies them, deeply, to document them) still shares it."""

    model: Any = None

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedBody:
        return self


def sharing_error_bodies(responses: dict[Any, dict[str, Any]], model: Any) -> dict[Any, Any]:
    """``responses`` with every response documented by ``model`` (the error model) given one
    ``content`` object: the first keeps the model, and FastAPI writes its schema into that
    object when it documents the route, so the others document the same body without a field
    of their own (FastAPI builds a `TypeAdapter` for each response model of each route)."""
    content = SharedBody()
    content.model = model
    shared: dict[Any, Any] = {}
    carrier = False
    for status, response in responses.items():
        if response.get("model") is model and "content" not in response:
            response = {k: v for k, v in response.items() if carrier is False or k != "model"}
            response["content"] = content
            carrier = True
        shared[status] = response
    return shared


def standalone(response: dict[str, Any]) -> dict[str, Any]:
    """A response of `sharing_error_bodies` as one of its own (for a route that takes it over
    from a generated one)."""
    content = response.get("content")
    if not isinstance(content, SharedBody):
        return response
    own = {k: v for k, v in response.items() if k != "content"}
    own["model"] = content.model
    return own
