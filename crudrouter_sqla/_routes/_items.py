"""The five item endpoints: get, create, replace, update and delete one row."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, HTTPException, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from .._model import WritePlan
from .._query import KEY_LABEL, Clause
from ..errors import not_found
from ._execute import execute, load, raise_db_error, render, render_written
from ._params import context_params, id_param, param, scope_of, with_signature
from ._relation_writes import check_relation_values, write_relations
from ._resource import Endpoint, Resource
from ._versions import IfMatch, if_match_param, parse_if_match


async def missing(res: Resource, session: AsyncSession, kwargs: dict[str, Any]) -> HTTPException:
    """The 404 for a row that was not found: it names the parent when that is what is missing."""
    parent = res.parent
    if parent is not None:
        parent_id = kwargs[parent.key]
        if (await execute(session, parent.exists(parent_id))).first() is None:
            return not_found(parent.info.resource, parent_id)
    return not_found(res.info.resource, kwargs["item_id"])


def make_get(res: Resource, name: str) -> Endpoint:
    """GET {prefix}/{item_id}."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        row = await load(res, session, kwargs["item_id"], scope_of(res, kwargs))
        if row is None:
            raise await missing(res, session, kwargs)
        return await render(res, session, row)

    return with_signature(endpoint, [id_param(res), *context_params(res)], name)


def _stamped(values: dict[str, Any], kwargs: dict[str, Any], res: Resource) -> dict[str, Any]:
    """The values with the router's stamp, and the parent key from the path, written over."""
    stamp = kwargs.get("stamp")
    if stamp:
        unknown = [key for key in stamp if key not in res.info.columns]
        if unknown:
            raise TypeError(f"stamp returned names that are not columns: {unknown}")
        values.update(stamp)
    if res.parent is not None:
        values[res.parent.key] = kwargs[res.parent.key]
    return values


def _split(
    res: Resource, plan: WritePlan, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    columns, relations = plan.split(values)
    if relations:
        check_relation_values(plan, relations)
    return columns, relations


def make_create(res: Resource, name: str) -> Endpoint:
    """POST {prefix}: insert from the create schema; 201."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        values, relations = _split(res, res.create_plan, kwargs["body"].model_dump())
        values = _stamped(values, kwargs, res)
        parent = res.parent
        if parent is not None:
            parent_id = kwargs[parent.key]
            if (await execute(session, parent.exists(parent_id))).first() is None:
                raise not_found(parent.info.resource, parent_id)
        result = await execute(session, res.queries.insert(values), res=res, values=values)
        row = result.one()
        related = False
        if relations:
            owner = row._mapping[KEY_LABEL]
            related = await write_relations(session, res.create_plan, owner, relations, True)
        return await render_written(res, session, row, 201, related)

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
    res: Resource,
    session: AsyncSession,
    kwargs: dict[str, Any],
    where: list[Clause],
    match: IfMatch,
) -> HTTPException:
    """Why a conditional write touched no row: 412 if the row exists, else 404."""
    item_id = kwargs["item_id"]
    if match.versions is not None:
        found = (await execute(session, res.queries.exists(item_id, where))).first()
        if found is not None:
            return HTTPException(
                status_code=412,
                detail=f"{res.info.resource} {item_id} has changed since the ETag in If-Match",
            )
    return await missing(res, session, kwargs)


def _make_write(
    res: Resource, name: str, schema: type[BaseModel], plan: WritePlan, partial: bool
) -> Endpoint:
    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        item_id = kwargs["item_id"]
        where = scope_of(res, kwargs)
        match = parse_if_match(res, kwargs.get("if_match"))
        model: BaseModel = kwargs["body"]
        values = model.model_dump(include=model.model_fields_set) if partial else model.model_dump()
        _check_body_key(res, item_id, values)
        values, relations = _split(res, plan, values)
        values = _stamped(values, kwargs, res)
        if not values and match.versions is None:
            if relations:
                row = (await execute(session, res.queries.exists(item_id, where))).first()
            else:
                row = await load(res, session, item_id, where)
        else:
            statement = res.queries.update(item_id, values, where, match.versions)
            row = (await execute(session, statement, res=res, values=values)).first()
        if row is None:
            raise await _missing_or_stale(res, session, kwargs, where, match)
        related = False
        if relations:
            related = await write_relations(session, plan, item_id, relations)
            if not values and match.versions is None:
                row = await load(res, session, item_id, where, fresh=True)
                return await render(res, session, row)
        return await render_written(res, session, row, 200, related)

    body = param("body", Annotated[schema, Body()])
    params = [id_param(res), body, *if_match_param(res), *context_params(res, stamp=True)]
    return with_signature(endpoint, params, name)


def make_replace(res: Resource, name: str) -> Endpoint:
    """PUT {prefix}/{item_id}: every field of the create schema is written."""
    return _make_write(res, name, res.create_schema, res.create_plan, partial=False)


def make_update(res: Resource, name: str) -> Endpoint:
    """PATCH {prefix}/{item_id}: only the fields the client sent are written."""
    return _make_write(res, name, res.update_schema, res.update_plan, partial=True)


def make_delete(res: Resource, name: str) -> Endpoint:
    """DELETE {prefix}/{item_id}: 204 with no body."""

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        item_id = kwargs["item_id"]
        where = scope_of(res, kwargs)
        match = parse_if_match(res, kwargs.get("if_match"))
        if res.queries.orm_delete:
            # Relationship cascades run only through the ORM: lock, check, then delete.
            obj = (await execute(session, res.queries.orm_one(item_id, where))).scalars().first()
            key = res.info.version_key
            current = getattr(obj, key) if obj is not None and key else None
            if obj is None or (match.versions is not None and current not in match.versions):
                raise await _missing_or_stale(res, session, kwargs, where, match)
            await session.delete(obj)
            try:
                await session.flush()
            except (SQLAlchemyError, OverflowError) as exc:
                raise_db_error(exc, "delete")
        else:
            statement = res.queries.delete(item_id, where, match.versions)
            if (await execute(session, statement, "delete")).first() is None:
                raise await _missing_or_stale(res, session, kwargs, where, match)
        return Response(status_code=204)

    params = [id_param(res), *if_match_param(res), *context_params(res)]
    return with_signature(endpoint, params, name)
