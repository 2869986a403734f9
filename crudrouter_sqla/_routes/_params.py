"""The parameters of generated endpoints: their signatures are assembled once, so FastAPI sees
typed path, query, body and dependency parameters."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Path, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from .._guard import Visibility
from .._model import KeyPart
from .._query import Clause, validation_error
from ._checks import checked_scope
from ._resource import Endpoint, Resource

RESERVED = frozenset(
    {
        "session",
        "scope",
        "stamp",
        "hooks",
        "tenant",
        "body",
        "item_id",
        "query",
        "request",
        "if_match",
        "soft_marks",
    }
)
"""Parameter names the endpoints use themselves; a parent key may not take one."""


def param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def with_signature(func: Endpoint, params: list[inspect.Parameter], name: str) -> Endpoint:
    func.__signature__ = inspect.Signature(params, return_annotation=Response)  # type: ignore[attr-defined]
    func.__name__ = name
    func.__qualname__ = name
    return func


def context_params(
    res: Resource, *, stamp: bool = False, hooks: bool = False, marks: bool = False
) -> list[inspect.Parameter]:
    """The parent key, the session, and the scope, stamp, hooks and ``soft_delete_values``
    dependencies where the router has them (the same parameters for every route of the
    router that takes them)."""
    return _shared(res, ("context", stamp, hooks, marks), _context_params)


def _shared(
    res: Resource, kind: tuple[Any, ...], build: Callable[..., list[inspect.Parameter]]
) -> list[inspect.Parameter]:
    """The parameters of ``kind`` (its name, then the arguments ``build`` takes after the
    resource), built once per router and shared by its routes."""
    known = res.params.get(kind)
    if known is None:
        known = res.params[kind] = tuple(build(res, *kind[1:]))
    return list(known)


def _context_params(
    res: Resource, stamp: bool, hooks: bool, marks: bool
) -> list[inspect.Parameter]:
    params = []
    parent = res.parent
    if parent is not None:
        path = Path(
            description=f"The {parent.target.key} of the {parent.info.resource}.", **parent.bounds()
        )
        params.append(param(parent.key, Annotated[parent.value_type, path]))
    params.append(param("session", Annotated[AsyncSession, Depends(res.session)]))
    if res.tenancy is not None:
        tenant = res.tenancy.dependency(res.session)
        params.append(param("tenant", Annotated[Any, Depends(tenant)]))
    if res.scope is not None:
        params.append(param("scope", Annotated[Any, Depends(res.scope)]))
    if stamp and res.stamp is not None:
        params.append(param("stamp", Annotated[Any, Depends(res.stamp)]))
    if hooks and res.hooks is not None:
        params.append(param("hooks", Annotated[Any, Depends(res.hooks)]))
    if marks and res.soft is not None and res.soft.dependencies:
        params.append(
            param("soft_marks", Annotated[Any, Depends(values_of(res.soft.dependencies))])
        )
    return params


def values_of(dependencies: Mapping[str, Callable[..., Any]]) -> Callable[..., Any]:
    """One dependency giving what each of ``dependencies`` gives, by name (column values of a
    ``stamp`` mapping or of ``soft_delete_values``)."""

    async def values(**given: Any) -> dict[str, Any]:
        return given

    values.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [param(key, Annotated[Any, Depends(dep)]) for key, dep in dependencies.items()]
    )
    return values


_SEEN = "crudrouter_sqla.seen"


def seen_by(res: Resource, kwargs: dict[str, Any]) -> Visibility:
    """What this request may see (`Visibility`): built once per request."""
    seen: Visibility | None = kwargs.get(_SEEN)
    if seen is None:
        scope = kwargs.get("scope")
        if scope is not None:
            scope = checked_scope(res, res.info.resource, res.info.table, scope)
        seen = kwargs[_SEEN] = Visibility(res.info.model, scope, res.tenancy, kwargs.get("tenant"))
    return seen


def scope_of(res: Resource, kwargs: dict[str, Any]) -> list[Clause]:
    """The conditions every statement on the router's own rows carries: the scope, the tenant,
    and, for a nested resource, the parent row, which must itself be one the request sees."""
    if res.scope is None and res.tenancy is None and res.parent is None:
        return []
    seen = seen_by(res, kwargs)
    where = seen.own_rows()
    parent = res.parent
    if parent is not None:
        value = kwargs[parent.key]
        where.append(parent.column == value)
        visible = seen.where(parent.info.model)
        if visible:
            where.append(parent.exists(value).where(*visible).correlate(None).exists())
    return where


def path_parts(res: Resource) -> list[KeyPart]:
    """The key columns an item path names: all of them, but the parent's key of a nested
    resource comes from the parent's segment."""
    parent = res.parent
    return [p for p in res.info.key if parent is None or p.key != parent.key]


def item_path(res: Resource) -> str:
    """``/{item_id}``, or one segment per key column of a composite key."""
    if not res.info.composite:
        return "/{item_id}"
    return "".join(f"/{{{part.key}}}" for part in path_parts(res))


def key_params(res: Resource) -> list[inspect.Parameter]:
    """The path parameters of an item route, typed and bounded from their columns (the same
    for every item route of the router)."""
    return _shared(res, ("key",), _key_params)


def _key_params(res: Resource) -> list[inspect.Parameter]:
    info = res.info
    if not info.composite:
        path = Path(description=f"The {info.pk_key} of the {info.resource}.", **info.pk_bounds())
        return [param("item_id", Annotated[info.pk_type, path])]
    return [
        param(
            part.key,
            Annotated[
                part.type,
                Path(description=f"The {part.key} of the {info.resource}.", **part.bounds()),
            ],
        )
        for part in path_parts(res)
    ]


def item_ident(res: Resource, kwargs: dict[str, Any]) -> Any:
    """The key a request names: a value, or a tuple in the mapper's key order."""
    if not res.info.composite:
        return kwargs["item_id"]
    return tuple(kwargs[part.key] for part in res.info.key)


def body_error(name: str, message: str) -> RequestValidationError:
    """A 422 naming a body field, in FastAPI's validation error shape."""
    return validation_error(("body", name), message)
