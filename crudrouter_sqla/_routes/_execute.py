"""Running a route's statements: database errors become HTTP errors in one place, and rows
become responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

from fastapi import HTTPException, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from .._query import VERSION_LABEL, Clause
from ..core import ConstraintViolation, DatabaseError, to_http_exception, translate_error
from ..core._errors import Operation
from ..core._routing import AUTOCOMMIT_READS_KEY, read_connection
from ..errors import not_found
from ._params import seen_by
from ._resource import JSON, Resource
from ._versions import etag


def raise_db_error(
    exc: BaseException,
    operation: Operation = "write",
    res: Resource | None = None,
    values: dict[str, Any] | None = None,
    prefix: str = "",
) -> NoReturn:
    """Raise the HTTP error for a database failure (409, 422, 503), or ``exc`` itself when it is
    not one the database reported. ``prefix`` says which part of the body failed."""
    error = translate_error(exc, operation)
    if error is None:
        raise exc
    raise http_error(error, operation, res, values, prefix) from exc


def http_error(
    error: DatabaseError,
    operation: Operation = "write",
    res: Resource | None = None,
    values: dict[str, Any] | None = None,
    prefix: str = "",
) -> HTTPException | RequestValidationError:
    """The HTTP error a client gets for a database error (or one the router found first, as
    the database would have reported it), ``prefix`` naming the part of the body."""
    if isinstance(error, ConstraintViolation) and res is not None:
        error.resolve(res.info.table)  # MySQL names only the unique key
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
    http = to_http_exception(error)
    if prefix and isinstance(http, HTTPException):
        http.detail = f"{prefix}: {http.detail}"
    elif prefix and isinstance(http, RequestValidationError):
        errors = [{**e, "msg": f"{prefix}: {e['msg']}"} for e in http.errors()]
        http = RequestValidationError(errors)
    return http


async def execute(
    session: AsyncSession,
    statement: Any,
    operation: Operation = "write",
    res: Resource | None = None,
    values: dict[str, Any] | None = None,
    params: Any = None,
    prefix: str = "",
) -> Any:
    """Execute a statement on the request's transaction: ORM statements through the session,
    Core statements on its connection."""
    try:
        if AUTOCOMMIT_READS_KEY in session.sync_session.info:
            await read_connection(session)  # a read-only request: no BEGIN/COMMIT round trips
        if getattr(statement, "_propagate_attrs", {}).get("compile_state_plugin") == "orm":
            return await session.execute(statement, params)
        connection = await session.connection()
        return await connection.execute(statement, params)
    except (SQLAlchemyError, OverflowError) as exc:
        raise_db_error(exc, operation, res, values, prefix)


async def load(
    res: Resource,
    session: AsyncSession,
    item_id: Any,
    where: Sequence[Clause],
    fresh: bool = False,
    alive: bool = True,
    options: Sequence[Any] = (),
) -> Any:
    """One row (or ORM object row) by key within the scope, or None. ``fresh`` reloads objects
    the session already holds (after their relationships were written); ``alive=False`` also
    finds a soft-deleted row; ``options`` are `embed_options`."""
    statement, params = res.queries.one(item_id, where, alive, options)
    if fresh:
        statement = statement.execution_options(populate_existing=True)
    return (await execute(session, statement, params=params)).first()


def embed_options(res: Resource, kwargs: dict[str, Any]) -> list[Any]:
    """The loader options that keep embedded rows the request may not see out of its reads."""
    if not res.embedded:
        return []
    return seen_by(res, kwargs).loader_options(res.embedded)


AfterHook = Callable[[AsyncSession, BaseModel], Awaitable[None]]


async def render(
    res: Resource,
    session: AsyncSession,
    row: Any,
    status: int = 200,
    after: AfterHook | None = None,
) -> Response:
    """The response for one row: JSON bytes, and the ETag where the model is versioned.
    ``after`` (a hook) sees the row as the read schema before it is written out."""
    serializer = res.serializer
    source = row[0] if res.queries.uses_orm else row
    if after is not None:
        if res.queries.uses_orm:
            item = await session.run_sync(lambda _s: serializer.validate(source))
        else:
            item = serializer.validate(source)
        await after(session, item)
        body = serializer.dump(item)
    elif res.queries.uses_orm:
        # Properties and relationships may load lazily; run them where SQLAlchemy can await.
        body = await session.run_sync(lambda _s: serializer.one(source))
    else:
        body = serializer.one(source)
    response = Response(body, status_code=status, media_type=JSON)
    if res.queries.version is not None:
        response.headers["ETag"] = etag(row._mapping[VERSION_LABEL])
    return response


async def render_written(
    res: Resource,
    session: AsyncSession,
    row: Any,
    status: int = 200,
    related: bool = False,
    after: AfterHook | None = None,
    options: Sequence[Any] = (),
) -> Response:
    """The response for a row just written: read back when the schema needs ORM objects or
    relationships were written with it (``options``: `embed_options`)."""
    if res.queries.uses_orm or related:
        ident = res.queries.ident_of(row)
        loaded = await load(res, session, ident, [], fresh=related, alive=False, options=options)
        assert loaded is not None
        return await render(res, session, loaded, status, after)
    return await render(res, session, row, status, after)


async def parent_missing(
    res: Resource, session: AsyncSession, kwargs: dict[str, Any]
) -> HTTPException | None:
    """The 404 naming the parent of a nested resource when it does not exist, or is a row the
    request may not see (worded the same)."""
    parent = res.parent
    if parent is None:
        return None
    parent_id = kwargs[parent.key]
    visible = seen_by(res, kwargs).where(parent.info.model)
    if (await execute(session, parent.exists(parent_id).where(*visible))).first() is None:
        return not_found(parent.info.resource, parent_id)
    return None


async def check_parent(res: Resource, session: AsyncSession, kwargs: dict[str, Any]) -> None:
    """Raise the 404 naming the parent of a nested resource when it does not exist."""
    error = await parent_missing(res, session, kwargs)
    if error is not None:
        raise error
