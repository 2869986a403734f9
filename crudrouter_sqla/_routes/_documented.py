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
from starlette.responses import Response

from .._memo import memo


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
    return memo(_WRAPPERS, annotation, _wrapper, _MAX_WRAPPERS)


def _wrapper(annotation: Any) -> Any:
    name = getattr(annotation, "__name__", "Documented")
    return type(name, (_Documented,), {"__slots__": (), "annotation": annotation})


_WRAPPERS: dict[Any, Any] = {}
"""One wrapper per type: the routes of a router (and of the routers that share a schema)
hand FastAPI the same one."""
_MAX_WRAPPERS = 4096


class SharedBody(dict[str, Any]):
    """The ``content`` of the responses of a router's routes that have the same body (the
    error responses; the answers of the routes that return one item), one object for all of
    them: a copy of the responses (FastAPI copies them, deeply, to document them) still shares
    it. FastAPI writes the body model's schema into it when it documents the route that carries
    the model (see `carrying`), so the other routes document the same body without a field of
    their own (FastAPI builds a `TypeAdapter` for each response model of each route)."""

    model: Any = None

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        self._responses: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedBody:
        return self

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """``response`` with this body in place of its model: one for all the routes that
        give the same response (FastAPI copies a response before it writes to it)."""
        known = self._responses.get(id(response))
        if known is not None and known[0] is response:
            return known[1]
        shared = {k: v for k, v in response.items() if k != "model"}
        shared["content"] = self
        self._responses[id(response)] = (response, shared)
        return shared


def sharing_bodies(
    responses: dict[Any, dict[str, Any]], content: SharedBody, model: Any = None
) -> dict[Any, Any]:
    """``responses`` with every response documented by ``model`` (by default the model of
    ``content``) given ``content`` in place of the model."""
    model = content.model if model is None else model
    shared: dict[Any, Any] = {}
    for status, response in responses.items():
        if response.get("model") is model and "content" not in response:
            response = content.response(response)
        shared[status] = response
    return shared


def answering(
    content: SharedBody, status: int, responses: dict[Any, dict[str, Any]]
) -> dict[Any, dict[str, Any]]:
    """``responses`` of a route whose answer (``status``) is documented by ``content`` (of a
    `documented` type), and whose other responses with the type itself (an upsert's 201) are
    too.

    Such a route hands FastAPI no response model, and answers with `ItemResponse`, whose
    media type FastAPI does not document: the answer's body is the shared one alone."""
    others = sharing_bodies(responses, content, content.model.annotation)
    return {status: {"content": content}, **others}


class ItemResponse(Response):
    """The response class of a route whose answer is documented by a shared body (see
    `answering`). The routes answer with responses they build themselves; FastAPI reads this
    class only to document the answer, and documents none for a class without a media type,
    so the shared body is the only content of the answer."""


def shared_bodies(responses: dict[Any, dict[str, Any]]) -> list[SharedBody]:
    """The shared bodies ``responses`` document, in order."""
    found: list[SharedBody] = []
    for response in responses.values():
        content = response.get("content")
        if isinstance(content, SharedBody) and all(content is not f for f in found):
            found.append(content)
    return found


def carrying(
    responses: dict[Any, dict[str, Any]], bodies: list[SharedBody]
) -> dict[Any, dict[str, Any]]:
    """``responses`` of the route that carries the models of ``bodies``: the first response
    documented by each names its model too, so FastAPI fills the body in."""
    carried: dict[Any, dict[str, Any]] = {}
    todo = list(bodies)
    for status, response in responses.items():
        content = response.get("content")
        if any(content is body for body in todo):
            response = {**response, "model": content.model}  # type: ignore[union-attr]
            todo = [body for body in todo if body is not content]
        carried[status] = response
    return carried


def standalone(response: dict[str, Any]) -> dict[str, Any]:
    """A response of `sharing_bodies` as one of its own (for a route that takes it over
    from a generated one)."""
    content = response.get("content")
    if not isinstance(content, SharedBody):
        return response
    own = {k: v for k, v in response.items() if k != "content"}
    own["model"] = content.model
    return own
