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
