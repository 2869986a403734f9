"""Writes that give back their row, on databases with and without ``... RETURNING``.

PostgreSQL and SQLite return the written row from INSERT, UPDATE and DELETE; MariaDB only from
INSERT and DELETE, MySQL from none. Without it, the write runs plain and the row is read back
by its key in the same transaction (an UPDATE's row lock keeps it as written), and a DELETE
counts its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .._query import Clause
from ._execute import execute
from ._resource import Resource


def _dialect(session: AsyncSession) -> Any:
    return session.get_bind().dialect


async def insert_row(session: AsyncSession, res: Resource, values: dict[str, Any]) -> Any:
    """Insert a row; the returned row has the read columns and ``_key``."""
    if _dialect(session).insert_returning:
        statement, params = res.queries.insert(values)
        result = await execute(session, statement, res=res, values=values, params=params)
        return result.one()
    statement = res.queries.plain_insert(values)
    result = await execute(session, statement, res=res, values=values)
    return (await execute(session, res.queries.read_back(_inserted_key(result)))).one()


def _inserted_key(result: Any) -> Any:
    key = tuple(result.inserted_primary_key)
    return key[0] if len(key) == 1 else key


async def insert_missing_row(
    session: AsyncSession, res: Resource, ident: Any, values: dict[str, Any]
) -> Any | None:
    """Insert a row unless its key exists (an upsert's create step, race-free); the row, or
    None when the key was taken."""
    dialect = _dialect(session).name
    if dialect in ("postgresql", "sqlite"):
        statement = res.queries.insert_missing(values, dialect)
        return (await execute(session, statement, res=res, values=values)).first()
    # MySQL and MariaDB: INSERT IGNORE skips a duplicate key (and only then inserts nothing).
    plain = res.queries.plain_insert(values).prefix_with("IGNORE")
    result = await execute(session, plain, res=res, values=values)
    if not result.rowcount:
        return None
    return (await execute(session, res.queries.read_back(ident))).first()


async def restore_row(
    session: AsyncSession, res: Resource, ident: Any, where: Sequence[Clause]
) -> Any | None:
    """Clear a soft-delete mark; the row as written, or None when no deleted row matched."""
    if _dialect(session).update_returning:
        return (await execute(session, res.queries.restore(ident, where))).first()
    result = await execute(session, res.queries.plain_restore(ident, where))
    if not result.rowcount:
        return None
    return (await execute(session, res.queries.read_back(ident))).first()


async def update_row(
    session: AsyncSession,
    res: Resource,
    item_id: Any,
    values: dict[str, Any],
    where: Sequence[Clause],
    versions: Sequence[Any] | None,
) -> Any | None:
    """Update one row; the row as written, or None when no row matched."""
    if _dialect(session).update_returning:
        statement, params = res.queries.update(item_id, values, where, versions)
        result = await execute(session, statement, res=res, values=values, params=params)
        return result.first()
    plain = res.queries.plain_update(item_id, values, where, versions)
    result = await execute(session, plain, res=res, values=values)
    if not result.rowcount:  # matched rows: SQLAlchemy's MySQL drivers ask for FOUND_ROWS
        return None
    return (await execute(session, res.queries.read_back(item_id))).first()


async def delete_row(
    session: AsyncSession,
    res: Resource,
    item_id: Any,
    where: Sequence[Clause],
    versions: Sequence[Any] | None,
    marks: dict[str, Any] | None = None,
) -> bool:
    """Delete one row (or mark it deleted: an UPDATE, with the request's ``marks`` of
    ``soft_delete_values``); whether there was one."""
    dialect = _dialect(session)
    if dialect.update_returning if res.soft is not None else dialect.delete_returning:
        statement = res.queries.delete(item_id, where, versions, marks)
        return (await execute(session, statement, "delete")).first() is not None
    plain = res.queries.plain_delete(item_id, where, versions, marks)
    result = await execute(session, plain, "delete")
    return bool(result.rowcount)
