"""Bulk writes, each route opt-in: insert many rows (``POST {prefix}/bulk``, optionally
``ON CONFLICT``), and update or delete every row that matches filters (``PATCH {prefix}``,
``DELETE {prefix}``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import Body, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import Integer, and_, func, insert, select, tuple_, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from .._query import Clause, query_error, validation_error
from ..core import ConstraintViolation, translate_error
from ._documented import documented
from ._execute import embed_options, execute, http_error, raise_db_error
from ._items import before_write, check_own_references, split, stamped
from ._list import deleted_where, filter_conditions, filter_field
from ._params import context_params, param, scope_of, seen_by, with_signature
from ._query_params import QueryModel, with_query
from ._relation_writes import write_relations
from ._resource import JSON, Endpoint, Resource

OnConflict = Literal["error", "ignore", "update"]


class BulkCount(BaseModel):
    """How many rows a bulk update or delete changed."""

    count: int = Field(description="The number of rows written.")


def bulk_body(res: Resource) -> Any:
    """The body of ``POST {prefix}/bulk``: a list of create bodies, at most ``max_bulk``."""
    return Annotated[
        documented(list[res.create_schema]),  # type: ignore[name-defined]
        Body(min_length=1, max_length=res.max_bulk, description="The rows to insert, in order."),
    ]


async def _failing_index(
    res: Resource, session: AsyncSession, rows: list[dict[str, Any]], exc: BaseException
) -> HTTPException | RequestValidationError:
    """Which row made a bulk insert fail: the transaction is rolled back, then the rows are
    inserted one by one (and rolled back again) until one fails."""
    await session.rollback()
    for index, values in enumerate(rows):
        try:
            connection = await session.connection()
            await connection.execute(insert(res.info.table).values(values))
        except (SQLAlchemyError, OverflowError) as failure:
            await session.rollback()
            try:
                raise_db_error(failure, "write", res, values, prefix=f"item {index}")
            except (HTTPException, RequestValidationError) as http:
                return http
    await session.rollback()
    error = translate_error(exc)
    assert error is not None
    try:
        raise_db_error(exc, "write", res, rows[0] if rows else None)
    except (HTTPException, RequestValidationError) as http:
        return http


def _validate(_session: Any, serializer: Any, obj: Any) -> BaseModel:
    item: BaseModel = serializer.validate(obj)
    return item


def _target(res: Resource) -> list[str]:
    """The columns a bulk insert's conflicts are resolved on."""
    return list(res.conflict_target) or [p.column.name for p in res.info.key]


def _set(res: Resource, written: list[str], new: Any) -> dict[str, Any]:
    """What ``ON CONFLICT DO UPDATE`` writes: the sent values (``new``), and the next version
    counted from the existing row's, as every other write does."""
    table = res.info.table
    version = res.queries.version
    updates: dict[str, Any] = {name: new[name] for name in written}
    if version is not None and version.key in updates:
        if isinstance(version.type, Integer) and res.info.version_generator is not None:
            updates[version.key] = table.c[version.name] + 1
    return updates


def _conflict_insert(
    res: Resource, dialect: str, mode: OnConflict, keys: set[str], where: list[Clause]
) -> Any:
    """The INSERT that resolves conflicts; an existing row outside ``where`` (what the
    request may see) is never overwritten."""
    table = res.info.table
    target = _target(res)
    written = [c.key for c in table.columns if c.name not in target and c.key in keys]
    if dialect in ("mysql", "mariadb"):
        # MySQL resolves a conflict on any unique key: INSERT IGNORE, ON DUPLICATE KEY UPDATE.
        mysql_statement = mysql_insert(table)
        if mode == "ignore" or not written:
            return mysql_statement.prefix_with("IGNORE")
        return mysql_statement.on_duplicate_key_update(_set(res, written, mysql_statement.inserted))
    if dialect == "postgresql":
        statement: Any = pg_insert(table)
    elif dialect == "sqlite":
        statement = sqlite_insert(table)
    else:
        raise query_error("on_conflict", f"on_conflict is not served on {dialect}")
    if mode == "ignore":
        return statement.on_conflict_do_nothing(index_elements=target)
    if not written:
        return statement.on_conflict_do_nothing(index_elements=target)
    return statement.on_conflict_do_update(
        index_elements=target,
        set_=_set(res, written, statement.excluded),
        where=and_(*where) if where else None,
    )


async def _insert_rows(
    res: Resource,
    session: AsyncSession,
    rows: list[dict[str, Any]],
    mode: OnConflict,
    where: list[Clause],
) -> list[Any]:
    """Insert the rows with multi-row INSERT ... RETURNING statements, and give the rows back
    in the order they were sent (ignored conflicts left out). A conflict with a row outside
    ``where`` is a 409 for an ``update``, as a conflict of a plain insert is."""
    queries = res.queries
    dialect = session.get_bind().dialect.name
    target = [res.info.table.c[name] for name in _target(res)]
    if mode == "error":
        base: Any = insert(res.info.table)
    else:
        if mode == "update" and where and dialect in ("mysql", "mariadb"):
            # ON DUPLICATE KEY UPDATE has no WHERE: look for hidden rows first, and lock them.
            await _refuse_hidden(res, session, rows, target, where)
        base = _conflict_insert(res, dialect, mode, set(rows[0]), where)
    connection = await session.connection()
    # One statement per batch of rows (SQLAlchemy's "insertmanyvalues"), compiled once.
    marks = [column.label(f"_t{i}") for i, column in enumerate(target)]
    # Rows come back in the order sent, by SQLAlchemy's "insertmanyvalues" sentinels, where
    # their key cannot tell it (a UUID or a server default): their relationship values,
    # hooks and errors follow the index.
    ordered = mode == "error" and not _sorts_as_sent(res, rows)
    statement = base.returning(*queries.returning, *marks, sort_by_parameter_order=ordered)
    sent = rows
    if mode != "error":
        _refuse_repeated(target, rows)
        # Concurrent upserts of overlapping keys lock their rows in one order, so they wait
        # for each other instead of deadlocking.
        sent = sorted(rows, key=lambda values: _sort_key(target, values))
    written: list[Any] = list((await connection.execute(statement, sent)).all())
    if mode == "update" and where and len(written) < len(rows):
        returned = {_mark(target, row) for row in written}
        for index, values in enumerate(rows):
            if _sent_key(target, values) not in returned:
                raise _hidden_conflict(res, dialect, target, index)
    if ordered:
        return written
    if mode != "error" and all(_sent_key(target, values) is not None for values in rows):
        position = {_sent_key(target, values): index for index, values in enumerate(rows)}
        return sorted(written, key=lambda row: position.get(_mark(target, row), len(rows)))
    return _in_sent_order(res, rows, written)


def _sorts_as_sent(res: Resource, rows: list[dict[str, Any]]) -> bool:
    """Whether the returned rows can be put in the order sent by their key: the client sent
    every key, or the key is one integer the database counts up (an identity or sequence)."""
    parts = res.info.key
    if all(part.column.key in rows[0] for part in parts):
        return True
    column = parts[0].column
    counted = column.autoincrement in (True, "auto")
    return len(parts) == 1 and counted and isinstance(column.type, Integer)


def _sent_key(target: list[Any], values: dict[str, Any]) -> tuple[Any, ...] | None:
    key = tuple(values.get(column.key) for column in target)
    return None if any(value is None for value in key) else key


def _mark(target: list[Any], row: Any) -> tuple[Any, ...]:
    return tuple(row._mapping[f"_t{i}"] for i in range(len(target)))


def _sort_key(target: list[Any], values: dict[str, Any]) -> tuple[Any, ...]:
    """Rows sorted by their conflict key (those without one last, in the order sent)."""
    key = _sent_key(target, values)
    return (1,) if key is None else (0, *((str(type(v)), v) for v in key))


def _refuse_repeated(target: list[Any], rows: list[dict[str, Any]]) -> None:
    """An upsert names each conflict key once: a second row with the same key would write the
    row twice in one statement, which the database refuses. 422 naming both items."""
    seen: dict[tuple[Any, ...], int] = {}
    for index, values in enumerate(rows):
        key = _sent_key(target, values)
        if key is None:
            continue
        first = seen.setdefault(key, index)
        if first != index:
            names = ", ".join(column.key for column in target)
            message = f"item {index} repeats the {names} of item {first}; send each row once"
            raise validation_error(("body", index), message)


async def _refuse_hidden(
    res: Resource,
    session: AsyncSession,
    rows: list[dict[str, Any]],
    target: list[Any],
    where: list[Clause],
) -> None:
    dialect = session.get_bind().dialect.name
    sent = [tuple(values.get(column.key) for column in target) for values in rows]
    hidden = (
        select(*target)
        .where(tuple_(*target).in_(sent), and_(*where).is_not(True))
        .with_for_update()
    )
    found = {tuple(row) for row in (await execute(session, hidden)).all()}
    for index, key in enumerate(sent):
        if key in found:
            raise _hidden_conflict(res, dialect, target, index)


def _hidden_conflict(res: Resource, dialect: str, target: list[Any], index: int) -> Exception:
    """The 409 of a row that conflicts with one the request may not see: worded as the
    database words the conflict of a plain insert, so it tells nothing more."""
    columns = tuple(column.name for column in target)
    if dialect in ("mysql", "mariadb") and set(target) == {p.column for p in res.info.key}:
        columns = ()  # MySQL names a primary key conflict by the key "PRIMARY" only
    violation = ConstraintViolation("unique", columns)
    return http_error(violation, "write", res, None, f"item {index}")


def _in_sent_order(res: Resource, rows: list[dict[str, Any]], written: list[Any]) -> list[Any]:
    """RETURNING does not promise an order: match rows to what was sent by their key, or, for
    keys the database makes, by their (increasing) key."""
    queries = res.queries
    parts = res.info.key
    if any(part.column.key not in rows[0] for part in parts):
        return sorted(written, key=queries.ident_of)
    position: dict[Any, int] = {}
    for index, values in enumerate(rows):
        key = tuple(values[part.column.key] for part in parts)
        position.setdefault(key[0] if len(key) == 1 else key, index)
    return sorted(written, key=lambda row: position.get(queries.ident_of(row), len(rows)))


@contextmanager
def at_item(index: int) -> Iterator[None]:
    """An error raised while writing one row of a bulk body (by a hook, a relationship list)
    names the row's index, as a database error does: ``item 3: ...``, or a 422 located at
    ``["body", 3, ...]``."""
    try:
        yield
    except RequestValidationError as exc:
        errors = []
        for error in exc.errors():
            loc = list(error.get("loc", ()))
            rest = loc[1:] if loc[:1] == ["body"] else loc
            errors.append({**error, "loc": ["body", index, *rest]})
        raise RequestValidationError(errors) from exc
    except HTTPException as exc:
        if isinstance(exc.detail, str) and not exc.detail.startswith("item "):
            detail = f"item {index}: {exc.detail}"
            raise HTTPException(exc.status_code, detail, headers=exc.headers) from exc
        raise


def make_bulk_create(res: Resource, name: str) -> Endpoint:
    """POST {prefix}/bulk: insert every row in one transaction; 201 with the rows in order.
    Relationship values (key lists, child bodies) are written for each row after the insert,
    as for one row; an error names the row's index."""
    queries = res.queries

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        hooks: Any = kwargs.get("hooks")
        mode: OnConflict = kwargs.get("on_conflict") or "error"
        rows: list[dict[str, Any]] = []
        sent: list[dict[str, Any]] = []
        related: list[dict[str, Any]] = []
        for index, body in enumerate(kwargs["body"]):
            with at_item(index):
                values, relations = split(res.create_plan, body.model_dump())
                values = stamped(values, kwargs, res)
                if res.has_hook("before_create"):
                    values, relations = await before_write(
                        res, res.create_plan, hooks.before_create, kwargs, values, relations
                    )
            if mode != "error" and set(relations) & body.model_fields_set:
                message = (
                    "on_conflict applies to rows without relationship values; send "
                    f"{', '.join(sorted(relations))} in a request without on_conflict"
                )
                raise validation_error(("query", "on_conflict"), message)
            sent.append(values)
            related.append(relations)
            rows.append(queries.row_values(values))
        prefixes = [f"item {index}" for index in range(len(sent))]
        await check_own_references(res, session, kwargs, sent, prefixes)
        try:
            written = await _insert_rows(res, session, rows, mode, scope_of(res, kwargs))
        except (SQLAlchemyError, OverflowError) as exc:
            if translate_error(exc) is None:
                raise
            raise await _failing_index(res, session, rows, exc) from exc
        wrote_relations = False
        if mode == "error" and any(related):
            seen = seen_by(res, kwargs)
            plan = res.create_plan
            for index, (row, relations) in enumerate(zip(written, related, strict=True)):
                if relations:
                    with at_item(index):
                        owner = queries.ident_of(row)
                        await write_relations(session, plan, owner, relations, seen, True)
                    wrote_relations = True
        serializer = res.serializer
        options = embed_options(res, kwargs)
        items: list[Any] = []
        if queries.uses_orm or res.has_hook("after_create"):
            for index, row in enumerate(written):
                loaded = row
                if queries.uses_orm:
                    ident = queries.ident_of(row)
                    statement_one, params = queries.one(ident, [], False, options)
                    if wrote_relations:
                        statement_one = statement_one.execution_options(populate_existing=True)
                    loaded = (await execute(session, statement_one, params=params)).one()
                    item = await session.run_sync(_validate, serializer, loaded[0])
                else:
                    item = serializer.validate(loaded)
                if res.has_hook("after_create"):
                    with at_item(index):
                        await hooks.after_create(session, item)
                items.append(item)
            body = serializer.dump_list(items)
        else:
            body = serializer.many_items(written)
        return Response(body, status_code=201, media_type=JSON)

    params = [param("body", bulk_body(res))]
    if res.upsert or res.conflict_target:
        description = (
            "`error` (default): a conflicting row fails the request; `ignore`: conflicting rows "
            "are skipped (and left out of the answer); `update`: they are overwritten."
        )
        on_conflict = Annotated[OnConflict | None, Query(description=description)]
        params.append(param("on_conflict", on_conflict, None))
    params += context_params(res, stamp=True, hooks=True)
    return with_signature(endpoint, params, name)


def _filter_model(res: Resource, name: str) -> QueryModel:
    fields: dict[str, Any] = {}
    for i, spec in enumerate(res.listing.filters):
        fields[f"f{i}"] = filter_field(spec)
    if res.soft is not None and res.expose_deleted:
        fields["deleted"] = (
            Literal["exclude", "include", "only"] | None,
            Field(None, description="Soft-deleted rows: `exclude` (default), `include`, `only`."),
        )
    return QueryModel(f"{name}_filters", fields)


def _where(res: Resource, query_model: QueryModel, kw: dict[str, Any]) -> list[Clause]:
    """The rows a bulk write touches: its filters, the scope and the parent."""
    request: Request = kw["request"]
    spec = res.listing
    allowed = {s.alias for s in spec.filters} | (
        {"deleted"} if res.soft is not None and res.expose_deleted else set()
    )
    for key in request.query_params:
        if key not in allowed and key not in res.ignored_query:
            raise query_error(
                key, f"unknown query parameter; allowed: {', '.join(sorted(allowed))}"
            )
    query = query_model.parse(request).__dict__
    seen = seen_by(res, kw)
    where, joins = filter_conditions(res, query, seen)
    if not where and not res.unfiltered_writes:
        raise query_error(
            "filters",
            "a bulk write needs at least one filter; the router does not allow writing to "
            "every row at once",
        )
    conditions = [*where, *scope_of(res, kw), *deleted_where(res, query.get("deleted"))]
    if joins:
        # Conditions on joined relations pick the keys first; UPDATE and DELETE cannot join.
        table = res.info.table
        keys = res.queries.joins.apply(select(res.queries.pk).select_from(table), joins, seen)
        # Through a derived table: MySQL cannot update a table it selects from directly.
        picked = keys.where(*conditions).subquery("picked")
        return [res.queries.pk.in_(select(picked.c[0]))]
    return conditions


def make_bulk_update(res: Resource, name: str) -> Endpoint:
    """PATCH {prefix}: one UPDATE of every row that matches the filters; answers the count."""
    query_model = _filter_model(res, name)

    async def endpoint(**kw: Any) -> Response:
        session: AsyncSession = kw["session"]
        model: BaseModel = kw["body"]
        values, relations = split(res.update_plan, model.model_dump(include=model.model_fields_set))
        if relations:
            raise query_error("body", "a bulk update cannot write relationships")
        values = stamped(values, kw, res)
        for part in res.info.key:
            values.pop(part.key, None)
        where = _where(res, query_model, kw)
        if not values:
            statement: Any = select(func.count()).select_from(res.info.table).where(*where)
            count = (await execute(session, statement)).scalar_one()
        else:
            row = res.queries.row_values(values, bump_version=True)
            statement = update(res.info.table).where(*where).values(row)
            count = (await execute(session, statement, res=res, values=values)).rowcount
            if count:
                await check_own_references(res, session, kw, [values])
        return Response(BulkCount(count=count).model_dump_json(), media_type=JSON)

    params = [
        param("request", Request),
        param("body", Annotated[documented(res.update_schema), Body()]),
        *context_params(res, stamp=True),
    ]
    return with_query(with_signature(endpoint, params, name), query_model)


def make_bulk_delete(res: Resource, name: str) -> Endpoint:
    """DELETE {prefix}: delete (or mark deleted) every row that matches the filters."""
    query_model = _filter_model(res, name)

    async def endpoint(**kw: Any) -> Response:
        session: AsyncSession = kw["session"]
        where = _where(res, query_model, kw)
        table = res.info.table
        if res.soft is not None:
            alive = [*where, res.soft.alive()]
            mark = res.soft.marks(kw.get("soft_marks"))
            statement: Any = update(table).where(*alive).values(mark)
        else:
            statement = sa_delete(table).where(*where)
        count = (await execute(session, statement, "delete")).rowcount
        return Response(BulkCount(count=count).model_dump_json(), media_type=JSON)

    params = [
        param("request", Request),
        *context_params(res, marks=True),
    ]
    return with_query(with_signature(endpoint, params, name), query_model)
