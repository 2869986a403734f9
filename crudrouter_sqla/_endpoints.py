"""The six generated endpoints. Their signatures are assembled once, so FastAPI sees typed
path, query, body and dependency parameters."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

from fastapi import Body, Depends, Path, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ._listing import ListSpec
from ._model import ModelInfo
from ._queries import Queries
from ._serialize import Serializer
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


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def _with_signature(func: Endpoint, params: list[inspect.Parameter], name: str) -> Endpoint:
    func.__signature__ = inspect.Signature(params, return_annotation=Response)  # type: ignore[attr-defined]
    func.__name__ = name
    func.__qualname__ = name
    return func


def _session_param(res: Resource) -> inspect.Parameter:
    return _param("session", Annotated[AsyncSession, Depends(res.session)])


def _id_param(res: Resource) -> inspect.Parameter:
    info = res.info
    path = Path(description=f"The {info.pk_key} of the {info.resource}.", **info.pk_bounds())
    return _param("item_id", Annotated[info.pk_type, path])


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


async def _execute(
    session: AsyncSession,
    statement: Any,
    operation: Operation = "write",
    res: Resource | None = None,
    values: dict[str, Any] | None = None,
) -> Any:
    try:
        return await session.execute(statement)
    except (SQLAlchemyError, OverflowError) as exc:
        _raise_db_error(exc, operation, res, values)


async def _render_one(res: Resource, session: AsyncSession, item_id: Any) -> bytes | None:
    """The JSON of one item read by key, or None when there is no such row."""
    result = await _execute(session, res.queries.one(item_id))
    if res.queries.uses_orm:
        obj = result.scalars().first()
        if obj is None:
            return None
        # Properties and relationships may load lazily; run them where SQLAlchemy can await.
        return await session.run_sync(lambda _s: res.serializer.one(obj))
    row = result.first()
    return None if row is None else res.serializer.one(row)


async def _render_written(res: Resource, session: AsyncSession, row: Any) -> bytes:
    if res.queries.uses_orm:
        body = await _render_one(res, session, row[0])
        assert body is not None
        return body
    return res.serializer.one(row)


def make_get(res: Resource, name: str) -> Endpoint:
    """GET {prefix}/{item_id}."""

    async def endpoint(**kwargs: Any) -> Response:
        body = await _render_one(res, kwargs["session"], kwargs["item_id"])
        if body is None:
            raise not_found(res.info.resource, kwargs["item_id"])
        return Response(body, media_type=JSON)

    return _with_signature(endpoint, [_id_param(res), _session_param(res)], name)


def make_create(res: Resource, name: str) -> Endpoint:
    """POST {prefix}: insert from the create schema; 201."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        values = kwargs["body"].model_dump()
        row = (await _execute(session, res.queries.insert(values), res=res, values=values)).one()
        return Response(await _render_written(res, session, row), status_code=201, media_type=JSON)

    body = _param("body", Annotated[res.create_schema, Body()])
    return _with_signature(endpoint, [body, _session_param(res)], name)


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


def _make_write(res: Resource, name: str, schema: type[BaseModel], partial: bool) -> Endpoint:
    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        item_id = kwargs["item_id"]
        model: BaseModel = kwargs["body"]
        values = model.model_dump(include=model.model_fields_set) if partial else model.model_dump()
        _check_body_key(res, item_id, values)
        if not values:
            body = await _render_one(res, session, item_id)
            if body is None:
                raise not_found(res.info.resource, item_id)
            return Response(body, media_type=JSON)
        row = (
            await _execute(session, res.queries.update(item_id, values), res=res, values=values)
        ).first()
        if row is None:
            raise not_found(res.info.resource, item_id)
        return Response(await _render_written(res, session, row), media_type=JSON)

    body = _param("body", Annotated[schema, Body()])
    return _with_signature(endpoint, [_id_param(res), body, _session_param(res)], name)


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
        if res.queries.orm_delete:
            # Relationship cascades run only through the ORM.
            obj = await session.get(res.info.model, item_id)
            if obj is None:
                raise not_found(res.info.resource, item_id)
            await session.delete(obj)
            try:
                await session.flush()
            except (SQLAlchemyError, OverflowError) as exc:
                _raise_db_error(exc, "delete")
        else:
            result = await _execute(session, res.queries.delete(item_id), "delete")
            if result.first() is None:
                raise not_found(res.info.resource, item_id)
        return Response(status_code=204)

    return _with_signature(endpoint, [_id_param(res), _session_param(res)], name)
