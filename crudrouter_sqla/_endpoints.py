"""The six generated endpoints. Their signatures are assembled once, so FastAPI sees typed
path, query, body and dependency parameters."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

from fastapi import Body, Depends, HTTPException, Path, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ._filters import Clause
from ._listing import ListSpec
from ._model import ModelInfo
from ._pagination import DEFAULT_MAX_OFFSET
from ._queries import VERSION_LABEL, Queries
from ._serialize import Serializer
from ._versions import IfMatch, etag, if_match_param, parse_if_match
from .core import ConstraintViolation, to_http_exception, translate_error
from .core._errors import Operation
from .errors import not_found

Endpoint = Callable[..., Awaitable[Response]]
JSON = "application/json"


@dataclass(frozen=True)
class Resource:
    """Everything the endpoints of one router share, fixed when the router is built."""

    info: ModelInfo
    queries: Queries
    serializer: Serializer
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]
    session: Callable[..., Any]
    filters: Sequence[Callable[..., Any]]
    default_limit: int
    max_limit: int
    listing: ListSpec
    scope: Callable[..., Any] | None = None
    stamp: Callable[..., Any] | None = None
    require_if_match: bool = False
    max_offset: int = DEFAULT_MAX_OFFSET


def param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def with_signature(func: Endpoint, params: list[inspect.Parameter], name: str) -> Endpoint:
    func.__signature__ = inspect.Signature(params, return_annotation=Response)  # type: ignore[attr-defined]
    func.__name__ = name
    func.__qualname__ = name
    return func


def _session_param(res: Resource) -> inspect.Parameter:
    return param("session", Annotated[AsyncSession, Depends(res.session)])


def context_params(res: Resource, *, stamp: bool = False) -> list[inspect.Parameter]:
    """The session, and the scope and stamp dependencies where the router has them."""
    params = [_session_param(res)]
    if res.scope is not None:
        params.append(param("scope", Annotated[Any, Depends(res.scope)]))
    if stamp and res.stamp is not None:
        params.append(param("stamp", Annotated[Any, Depends(res.stamp)]))
    return params


def scope_of(kwargs: dict[str, Any]) -> list[Clause]:
    """The scope clause of a request, as a list for ``where``."""
    clause = kwargs.get("scope")
    return [] if clause is None else [clause]


def _id_param(res: Resource) -> inspect.Parameter:
    info = res.info
    path = Path(description=f"The {info.pk_key} of the {info.resource}.", **info.pk_bounds())
    return param("item_id", Annotated[info.pk_type, path])


def _raise_db_error(
    exc: BaseException,
    operation: Operation = "write",
    res: Resource | None = None,
    values: dict[str, Any] | None = None,
) -> NoReturn:
    error = translate_error(exc, operation)
    if error is None:
        raise exc
    if (
        isinstance(error, ConstraintViolation)
        and error.kind == "foreign_key"
        and operation == "write"
        and not error.columns
        and res is not None
        and values
    ):
        # SQLite does not say which reference failed: it is one of the references written.
        fks = res.info.foreign_keys
        error.columns = tuple(k for k, v in values.items() if k in fks and v is not None)
    raise to_http_exception(error) from exc


async def execute(
    session: AsyncSession,
    statement: Any,
    operation: Operation = "write",
    res: Resource | None = None,
    values: dict[str, Any] | None = None,
    params: Any = None,
) -> Any:
    try:
        if getattr(statement, "_propagate_attrs", {}).get("compile_state_plugin") == "orm":
            return await session.execute(statement, params)
        connection = await session.connection()
        return await connection.execute(statement, params)
    except (SQLAlchemyError, OverflowError) as exc:
        _raise_db_error(exc, operation, res, values)


async def _load(res: Resource, session: AsyncSession, item_id: Any, where: list[Clause]) -> Any:
    """One row (or ORM object row) by key within the scope, or None."""
    statement, params = res.queries.one(item_id, where)
    return (await execute(session, statement, params=params)).first()


async def _render(res: Resource, session: AsyncSession, row: Any, status: int = 200) -> Response:
    """The response for one row: JSON bytes, and the ETag where the model is versioned."""
    if res.queries.uses_orm:
        obj = row[0]
        # Properties and relationships may load lazily; run them where SQLAlchemy can await.
        body = await session.run_sync(lambda _s: res.serializer.one(obj))
    else:
        body = res.serializer.one(row)
    response = Response(body, status_code=status, media_type=JSON)
    if res.queries.version is not None:
        response.headers["ETag"] = etag(row._mapping[VERSION_LABEL])
    return response


async def _render_written(
    res: Resource, session: AsyncSession, row: Any, status: int = 200
) -> Response:
    if res.queries.uses_orm:
        # Writes return only the key; the ORM object is read back for the schema.
        loaded = await _load(res, session, row[0], [])
        assert loaded is not None
        return await _render(res, session, loaded, status)
    return await _render(res, session, row, status)


def make_get(res: Resource, name: str) -> Endpoint:
    """GET {prefix}/{item_id}."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        row = await _load(res, session, kwargs["item_id"], scope_of(kwargs))
        if row is None:
            raise not_found(res.info.resource, kwargs["item_id"])
        return await _render(res, session, row)

    return with_signature(endpoint, [_id_param(res), *context_params(res)], name)


def _stamped(values: dict[str, Any], kwargs: dict[str, Any], res: Resource) -> dict[str, Any]:
    stamp = kwargs.get("stamp")
    if stamp:
        unknown = [key for key in stamp if key not in res.info.columns]
        if unknown:
            raise TypeError(f"stamp returned names that are not columns: {unknown}")
        values.update(stamp)
    return values


def make_create(res: Resource, name: str) -> Endpoint:
    """POST {prefix}: insert from the create schema; 201."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        values = _stamped(kwargs["body"].model_dump(), kwargs, res)
        result = await execute(session, res.queries.insert(values), res=res, values=values)
        return await _render_written(res, session, result.one(), 201)

    body = param("body", Annotated[res.create_schema, Body()])
    return with_signature(endpoint, [body, *context_params(res, stamp=True)], name)


def _check_body_key(res: Resource, item_id: Any, values: dict[str, Any]) -> None:
    """A body that names the primary key must name the one in the path."""
    key = res.info.pk_key
    if key in values:
        if values.pop(key) != item_id:
            raise RequestValidationError(
                [
                    {
                        "type": "value_error",
                        "loc": ("body", key),
                        "msg": f"{key} in the body must match the {key} in the path",
                        "input": None,
                    }
                ]
            )


async def _missing_or_stale(
    res: Resource, session: AsyncSession, item_id: Any, where: list[Clause], match: IfMatch
) -> HTTPException:
    """Why a conditional write touched no row: 412 if the row exists, else 404."""
    if match.versions is not None:
        found = (await execute(session, res.queries.exists(item_id, where))).first()
        if found is not None:
            return HTTPException(
                status_code=412,
                detail=f"{res.info.resource} {item_id} has changed since the ETag in If-Match",
            )
    return not_found(res.info.resource, item_id)


def _make_write(res: Resource, name: str, schema: type[BaseModel], partial: bool) -> Endpoint:
    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        item_id = kwargs["item_id"]
        where = scope_of(kwargs)
        match = parse_if_match(res, kwargs.get("if_match"))
        model: BaseModel = kwargs["body"]
        values = model.model_dump(include=model.model_fields_set) if partial else model.model_dump()
        _check_body_key(res, item_id, values)
        values = _stamped(values, kwargs, res)
        if not values and match.versions is None:
            row = await _load(res, session, item_id, where)
        else:
            statement = res.queries.update(item_id, values, where, match.versions)
            row = (await execute(session, statement, res=res, values=values)).first()
        if row is None:
            raise await _missing_or_stale(res, session, item_id, where, match)
        return await _render_written(res, session, row)

    body = param("body", Annotated[schema, Body()])
    params = [_id_param(res), body, *if_match_param(res), *context_params(res, stamp=True)]
    return with_signature(endpoint, params, name)


def make_replace(res: Resource, name: str) -> Endpoint:
    """PUT {prefix}/{item_id}: every field of the create schema is written."""
    return _make_write(res, name, res.create_schema, partial=False)


def make_update(res: Resource, name: str) -> Endpoint:
    """PATCH {prefix}/{item_id}: only the fields the client sent are written."""
    return _make_write(res, name, res.update_schema, partial=True)


def make_delete(res: Resource, name: str) -> Endpoint:
    """DELETE {prefix}/{item_id}: 204 with no body."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        item_id = kwargs["item_id"]
        where = scope_of(kwargs)
        match = parse_if_match(res, kwargs.get("if_match"))
        if res.queries.orm_delete:
            # Relationship cascades run only through the ORM: lock, check, then delete.
            obj = (await execute(session, res.queries.orm_one(item_id, where))).scalars().first()
            key = res.info.version_key
            current = getattr(obj, key) if obj is not None and key else None
            if obj is None or (match.versions is not None and current not in match.versions):
                raise await _missing_or_stale(res, session, item_id, where, match)
            await session.delete(obj)
            try:
                await session.flush()
            except (SQLAlchemyError, OverflowError) as exc:
                _raise_db_error(exc, "delete")
        else:
            statement = res.queries.delete(item_id, where, match.versions)
            if (await execute(session, statement, "delete")).first() is None:
                raise await _missing_or_stale(res, session, item_id, where, match)
        return Response(status_code=204)

    params = [_id_param(res), *if_match_param(res), *context_params(res)]
    return with_signature(endpoint, params, name)
