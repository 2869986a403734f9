"""Writing relationships with their row, in the request's transaction: a to-many collection
set from a list of keys, and one-to-many children created from a list of bodies."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .._guard import Visibility
from .._model import ChildList, KeyList, WritePlan
from ._execute import execute
from ._params import body_error
from ._references import check_references


def check_relation_values(plan: WritePlan, relations: dict[str, Any]) -> None:
    """Refuse (422) a list longer than the router's ``max_related``, and a list of keys that
    names a row twice, before anything is written."""
    for name, items in relations.items():
        if items is not None and len(items) > plan.max_items:
            message = (
                f"{name} holds {len(items)} items; at most {plan.max_items} (max_related) "
                "are written with one row"
            )
            raise body_error(name, message)
    for spec in plan.keys:
        ids = relations.get(spec.key)
        if not ids:
            continue
        seen: set[Any] = set()
        twice = [i for i in ids if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
        if twice:
            raise body_error(spec.key, f"{spec.key} names {twice[0]!r} more than once")


async def write_relations(
    session: AsyncSession,
    plan: WritePlan,
    owner: Any,
    relations: dict[str, Any],
    seen: Visibility,
    created: bool = False,
) -> bool:
    """Write the relationship values a body holds for the row whose key is ``owner``;
    ``created`` says the row is new (nothing to replace). Keys name only rows ``seen`` shows
    (others are unknown keys), and children get the caller's tenant. Returns whether anything
    was written."""
    written = False
    for spec in plan.keys:
        ids = relations.get(spec.key)
        if ids is not None:
            await _set_keys(session, spec, owner, list(ids), created, seen)
            written = True
    for child in plan.children:
        bodies = relations.get(child.key)
        if bodies is not None:
            await _replace_children(session, child, owner, bodies, created, seen)
            written = True
    return written


async def _set_keys(
    session: AsyncSession,
    spec: KeyList,
    owner: Any,
    ids: list[Any],
    created: bool,
    seen: Visibility,
) -> None:
    related = spec.related
    visible = seen.where(related.model)
    if ids:
        pick = select(related.pk_column).where(related.pk_column.in_(ids), *visible)
        found = await execute(session, pick)
        known = set(found.scalars().all())
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise HTTPException(
                status_code=409,
                detail=f"{spec.key}: no {related.resource} has the {related.pk_key} "
                f"{', '.join(str(i) for i in unknown)}",
            )
    if spec.secondary is not None:
        assert spec.related_column is not None
        if not created:
            await execute(session, delete(spec.secondary).where(spec.parent_column == owner))
        if ids:
            rows = [{spec.parent_column.name: owner, spec.related_column.name: i} for i in ids]
            await execute(session, insert(spec.secondary), params=rows, prefix=spec.key)
        return
    table = spec.parent_column.table
    pk = related.pk_column
    if not created:
        detach = [spec.parent_column == owner, *visible]
        if ids:
            detach.append(pk.not_in(ids))
        clear = update(table).where(and_(*detach)).values({spec.parent_column: None})
        await execute(session, clear, prefix=spec.key)
    if ids:
        attach = update(table).where(pk.in_(ids), *visible).values({spec.parent_column: owner})
        await execute(session, attach, prefix=spec.key)


async def _replace_children(
    session: AsyncSession,
    child: ChildList,
    owner: Any,
    bodies: list[dict[str, Any]],
    created: bool,
    seen: Visibility,
) -> None:
    table = child.foreign_key.table
    model = child.related.model
    if not created:
        visible = seen.where(model)
        clear = delete(table).where(child.foreign_key == owner, *visible)
        await execute(session, clear, "delete")
    tenant = None if seen.tenancy is None else seen.tenancy.column_of(model)
    prefixes = [f"{child.key}[{index}]" for index in range(len(bodies))]
    rows: list[dict[str, Any]] = []
    for body in bodies:
        values = {k: v for k, v in body.items() if k in child.columns}
        if tenant is not None:
            values[_attribute(child, tenant)] = seen.tenant
        rows.append(values)
    await check_references(session, seen, child.references, rows, None, prefixes)
    for prefix, values in zip(prefixes, rows, strict=True):
        row = {child.related.columns[k]: v for k, v in values.items()}
        row[child.foreign_key] = owner
        await execute(session, insert(table).values(row), prefix=prefix)


def _attribute(child: ChildList, column: Any) -> str:
    return next(k for k, c in child.related.columns.items() if c is column)
