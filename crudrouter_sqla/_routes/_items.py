"""The item endpoints: get, create, replace (with upsert), update, delete and restore one row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Body, HTTPException, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from .._model import WritePlan
from .._query import Clause
from ..errors import not_found
from ._checks import checked_stamp
from ._documented import documented
from ._execute import (
    check_parent,
    embed_options,
    execute,
    load,
    parent_missing,
    raise_db_error,
    render,
    render_written,
)
from ._params import (
    body_error,
    context_params,
    item_ident,
    key_params,
    param,
    scope_of,
    seen_by,
    with_signature,
)
from ._references import check_references
from ._relation_writes import check_relation_values, write_relations
from ._resource import Endpoint, Resource
from ._returning import delete_row, insert_missing_row, insert_row, restore_row, update_row
from ._versions import IfMatch, if_match_param, parse_if_match


def missing_item(res: Resource, ident: Any) -> HTTPException:
    """The 404 for a row, naming the resource and every key value."""
    return not_found(res.info.resource, res.info.describe(ident))


async def missing(res: Resource, session: AsyncSession, kwargs: dict[str, Any]) -> HTTPException:
    """The 404 for a row that was not found: it names the parent when that is what is missing."""
    error = await parent_missing(res, session, kwargs)
    return error or missing_item(res, item_ident(res, kwargs))


def make_get(res: Resource, name: str) -> Endpoint:
    """GET {prefix}/{item_id}."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        ident = item_ident(res, kwargs)
        row = await load(
            res, session, ident, scope_of(res, kwargs), options=embed_options(res, kwargs)
        )
        if row is None:
            raise await missing(res, session, kwargs)
        return await render(res, session, row)

    return with_signature(endpoint, [*key_params(res), *context_params(res)], name)


def stamped(values: dict[str, Any], kwargs: dict[str, Any], res: Resource) -> dict[str, Any]:
    """The values with the router's stamp, the caller's tenant, and the parent key from the
    path, written over."""
    stamp = kwargs.get("stamp")
    if stamp is not None:
        values.update(checked_stamp(res, res.info.resource, res.info.columns, stamp))
    if res.tenant_key is not None:
        values[res.tenant_key] = kwargs["tenant"]
    if res.parent is not None:
        values[res.parent.key] = kwargs[res.parent.key]
    return values


async def check_own_references(
    res: Resource,
    session: AsyncSession,
    kwargs: dict[str, Any],
    rows: list[dict[str, Any]],
    prefixes: list[str] | None = None,
) -> None:
    """Refuse reference keys of the router's own rows that name rows the request may not
    see, as the database refuses unknown ones."""
    if res.references:
        seen = seen_by(res, kwargs)
        await check_references(session, seen, res.references, rows, res, prefixes)


async def before_write(
    res: Resource,
    plan: WritePlan,
    hook: Any,
    kwargs: dict[str, Any],
    values: dict[str, Any],
    relations: dict[str, Any],
    *args: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a ``before_create``/``before_update`` hook on the values with the relationship
    values the request sets (key lists, children) beside them; the stamp is written over
    whatever the hook changed."""
    merged = {**values, **relations}
    await hook(kwargs["session"], *args, merged)
    values, relations = plan.split(merged)
    if relations:
        check_relation_values(plan, relations)
    return stamped(values, kwargs, res), relations


def split(plan: WritePlan, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Column values and relationship values of a body; duplicate keys are refused."""
    columns, relations = plan.split(values)
    if relations:
        check_relation_values(plan, relations)
    return columns, relations


async def insert_one(
    res: Resource,
    session: AsyncSession,
    kwargs: dict[str, Any],
    values: dict[str, Any],
    relations: dict[str, Any],
) -> Response:
    """Insert a row (hooks, stamp, parent, relationships) and answer 201 with it."""
    hooks: Any = kwargs.get("hooks")
    plan = res.create_plan
    if res.has_hook("before_create"):
        values, relations = await before_write(
            res, plan, hooks.before_create, kwargs, values, relations
        )
    await check_parent(res, session, kwargs)
    row = await insert_row(session, res, values)
    await check_own_references(res, session, kwargs, [values])
    related = False
    if relations:
        owner = res.queries.ident_of(row)
        seen = seen_by(res, kwargs)
        related = await write_relations(session, plan, owner, relations, seen, True)
    after = hooks.after_create if res.has_hook("after_create") else None
    options = embed_options(res, kwargs)
    return await render_written(res, session, row, 201, related, after, options)


def make_create(res: Resource, name: str) -> Endpoint:
    """POST {prefix}: insert from the create schema; 201."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        values, relations = split(res.create_plan, kwargs["body"].model_dump())
        values = stamped(values, kwargs, res)
        return await insert_one(res, session, kwargs, values, relations)

    body = param("body", Annotated[documented(res.create_schema), Body()])
    return with_signature(endpoint, [body, *context_params(res, stamp=True, hooks=True)], name)


def _check_body_key(res: Resource, ident: Any, values: dict[str, Any]) -> None:
    """A body that names a key column must name the value in the path."""
    parts = res.info.key
    idents = (ident,) if len(parts) == 1 else ident
    for part, value in zip(parts, idents, strict=True):
        sent = values.pop(part.key, None)
        if sent is not None and sent != value:
            message = f"{part.key} in the body must match the {part.key} in the path"
            raise body_error(part.key, message)


async def missing_or_stale(
    res: Resource,
    session: AsyncSession,
    kwargs: dict[str, Any],
    where: Sequence[Clause],
    match: IfMatch,
    alive: bool = True,
) -> HTTPException:
    """Why a conditional write touched no row: 412 if the row exists (``alive=False``: even
    soft-deleted), else 404."""
    ident = item_ident(res, kwargs)
    if match.versions is not None:
        found = (await execute(session, res.queries.exists(ident, where, alive))).first()
        if found is not None:
            return HTTPException(
                status_code=412,
                detail=f"{res.info.resource} {res.info.describe(ident)} has changed since the "
                "ETag in If-Match",
            )
    return await missing(res, session, kwargs)


def _key_values(res: Resource, ident: Any) -> dict[str, Any]:
    parts = res.info.key
    idents = (ident,) if len(parts) == 1 else ident
    return {part.key: value for part, value in zip(parts, idents, strict=True)}


def _make_write(
    res: Resource, name: str, schema: type[BaseModel], plan: WritePlan, partial: bool
) -> Endpoint:
    upsert = res.upsert and not partial

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        ident = item_ident(res, kwargs)
        where = scope_of(res, kwargs)
        match = parse_if_match(res, kwargs.get("if_match"))
        model: BaseModel = kwargs["body"]
        values = model.model_dump(include=model.model_fields_set) if partial else model.model_dump()
        _check_body_key(res, ident, values)
        values, relations = split(plan, values)
        values = stamped(values, kwargs, res)
        hooks: Any = kwargs.get("hooks")
        original = dict(values) if upsert else values
        if res.has_hook("before_update"):
            # The hook sees only a row the request may see: a hidden one is a 404 first.
            found = (await execute(session, res.queries.exists(ident, where))).first()
            if found is not None:
                values, relations = await before_write(
                    res, plan, hooks.before_update, kwargs, values, relations, ident
                )
            elif not (upsert and match.versions is None):
                raise await missing_or_stale(res, session, kwargs, where, match)
        if not values and match.versions is None:
            if relations:
                row = (await execute(session, res.queries.exists(ident, where))).first()
            else:
                row = await load(res, session, ident, where, options=embed_options(res, kwargs))
        else:
            row = await update_row(session, res, ident, values, where, match.versions)
        if row is None:
            if upsert and match.versions is None:
                fresh = {**original, **_key_values(res, ident)}
                if fresh != {**_key_values(res, ident), **original}:
                    # The path names a key the stamp (or tenancy) would not give the row: it
                    # lies outside what the caller may create or see.
                    raise missing_item(res, ident)
                relations = dict(relations)
                return await _upsert_create(res, session, kwargs, ident, fresh, relations, values)
            raise await missing_or_stale(res, session, kwargs, where, match)
        await check_own_references(res, session, kwargs, [values])
        return await _updated(res, session, kwargs, ident, row, values, relations, plan, match)

    body = param("body", Annotated[documented(schema), Body()])
    params = [
        *key_params(res),
        body,
        *if_match_param(res),
        *context_params(res, stamp=True, hooks=True),
    ]
    return with_signature(endpoint, params, name)


async def _upsert_create(
    res: Resource,
    session: AsyncSession,
    kwargs: dict[str, Any],
    ident: Any,
    fresh: dict[str, Any],
    relations: dict[str, Any],
    values: dict[str, Any],
) -> Response:
    """The create step of an upserting PUT (201), or the replace when another request created
    the row meanwhile."""
    hooks: Any = kwargs.get("hooks")
    if res.has_hook("before_create"):
        fresh, relations = await before_write(
            res, res.create_plan, hooks.before_create, kwargs, fresh, relations
        )
    await check_parent(res, session, kwargs)
    created = await insert_missing_row(session, res, ident, fresh)
    if created is None:
        # Another request created it meanwhile: replace what it wrote.
        where = scope_of(res, kwargs)
        row = await update_row(session, res, ident, values, where, None)
        if row is None:
            raise await missing(res, session, kwargs)
        await check_own_references(res, session, kwargs, [values])
        match = parse_if_match(res, None)
        return await _updated(
            res, session, kwargs, ident, row, values, relations, res.create_plan, match
        )
    await check_own_references(res, session, kwargs, [fresh])
    related = False
    if relations:
        owner = res.queries.ident_of(created)
        seen = seen_by(res, kwargs)
        related = await write_relations(session, res.create_plan, owner, relations, seen, True)
    after = hooks.after_create if res.has_hook("after_create") else None
    options = embed_options(res, kwargs)
    return await render_written(res, session, created, 201, related, after, options)


async def _updated(
    res: Resource,
    session: AsyncSession,
    kwargs: dict[str, Any],
    ident: Any,
    row: Any,
    values: dict[str, Any],
    relations: dict[str, Any],
    plan: WritePlan,
    match: IfMatch,
) -> Response:
    """Write the relationships of a replaced or updated row, run ``after_update``, answer."""
    hooks: Any = kwargs.get("hooks")
    related = False
    after = hooks.after_update if res.has_hook("after_update") else None
    options = embed_options(res, kwargs)
    where = scope_of(res, kwargs)
    if relations:
        seen = seen_by(res, kwargs)
        related = await write_relations(session, plan, ident, relations, seen)
        if not values and match.versions is None:
            # Only relationships were written: the row read before them is stale.
            row = await load(res, session, ident, where, fresh=True, options=options)
            return await render(res, session, row, 200, after)
    if not values and match.versions is None:
        return await render(res, session, row, 200, after)
    return await render_written(res, session, row, 200, related, after, options)


def make_replace(res: Resource, name: str) -> Endpoint:
    """PUT {prefix}/{item_id}: every field of the create schema is written; with upsert, a
    missing row is created (201)."""
    return _make_write(res, name, res.replace_schema, res.create_plan, partial=False)


def make_update(res: Resource, name: str) -> Endpoint:
    """PATCH {prefix}/{item_id}: only the fields the client sent are written."""
    return _make_write(res, name, res.update_schema, res.update_plan, partial=True)


def make_delete(res: Resource, name: str) -> Endpoint:
    """DELETE {prefix}/{item_id}: 204 with no body; a mark instead when soft delete is on."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        ident = item_ident(res, kwargs)
        where = scope_of(res, kwargs)
        match = parse_if_match(res, kwargs.get("if_match"))
        hooks: Any = kwargs.get("hooks")
        if res.has_hook("before_delete"):
            # The hook sees only a row the request may see: a hidden one is a 404 first.
            if (await execute(session, res.queries.exists(ident, where))).first() is None:
                raise await missing_or_stale(res, session, kwargs, where, match)
            await hooks.before_delete(session, ident)
        if res.queries.orm_delete and res.soft is None:
            # Relationship cascades run only through the ORM: lock, check, then delete.
            obj = (await execute(session, res.queries.orm_one(ident, where))).scalars().first()
            key = res.info.version_key
            current = getattr(obj, key) if obj is not None and key else None
            if obj is None or (match.versions is not None and current not in match.versions):
                raise await missing_or_stale(res, session, kwargs, where, match)
            await session.delete(obj)
            try:
                await session.flush()
            except (SQLAlchemyError, OverflowError) as exc:
                raise_db_error(exc, "delete")
        else:
            marks = kwargs.get("soft_marks")
            if not await delete_row(session, res, ident, where, match.versions, marks):
                raise await missing_or_stale(res, session, kwargs, where, match)
        if res.has_hook("after_delete"):
            await hooks.after_delete(session, ident)
        return Response(status_code=204)

    params = [
        *key_params(res),
        *if_match_param(res),
        *context_params(res, hooks=True, marks=True),
    ]
    return with_signature(endpoint, params, name)


def make_restore(res: Resource, name: str) -> Endpoint:
    """POST {prefix}/{item_id}/restore: clear a soft-delete mark; 404 unless the row is
    soft-deleted."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        ident = item_ident(res, kwargs)
        row = await restore_row(session, res, ident, scope_of(res, kwargs))
        if row is None:
            await check_parent(res, session, kwargs)
            raise not_found(f"Deleted {res.info.resource}", res.info.describe(ident))
        options = embed_options(res, kwargs)
        return await render_written(res, session, row, options=options)

    return with_signature(endpoint, [*key_params(res), *context_params(res)], name)
