"""Reference keys in writes: a foreign key value that names a row the request may not see is
refused exactly as the database refuses one that names no row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from .._guard import Visibility
from .._model import Reference
from ..core import ConstraintViolation
from ._execute import execute, http_error
from ._resource import Resource


async def check_references(
    session: AsyncSession,
    seen: Visibility,
    references: Sequence[Reference],
    rows: Sequence[dict[str, Any]],
    res: Resource | None = None,
    prefixes: Sequence[str] | None = None,
) -> None:
    """Raise the foreign-key 409 for the first row whose reference keys name a row ``seen``
    hides. One statement per reference whose model has a rule; ``prefixes`` name the rows in
    the error (``item 3``); ``res`` is given for the router's own rows, whose error names the
    columns as the database's does."""
    for ref in references:
        visible = seen.where(ref.model)
        if not visible:
            continue
        wanted: dict[tuple[Any, ...], None] = {}
        for values in rows:
            key = _key(ref, values)
            if key is not None:
                wanted[key] = None
        if not wanted:
            continue
        if len(ref.targets) == 1:
            target: Any = ref.targets[0]
            picked = target.in_([key[0] for key in wanted])
        else:
            target = tuple_(*ref.targets)
            picked = target.in_(list(wanted))
        statement = select(*ref.targets).where(picked, *visible)
        found = {tuple(row) for row in (await execute(session, statement)).all()}
        for index, values in enumerate(rows):
            key = _key(ref, values)
            if key is not None and key not in found:
                prefix = "" if prefixes is None else prefixes[index]
                raise _unknown(session, ref, values, res, prefix)


def _key(ref: Reference, values: dict[str, Any]) -> tuple[Any, ...] | None:
    key = tuple(values.get(name) for name in ref.keys)
    return None if any(value is None for value in key) else key


def _unknown(
    session: AsyncSession, ref: Reference, values: dict[str, Any], res: Resource | None, prefix: str
) -> Exception:
    """The error the database gives for a reference to no row, named as it names it: SQLite
    says no column (the router then names the references written), the others name the
    constraint's columns."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    columns = () if sqlite else ref.names
    return http_error(ConstraintViolation("foreign_key", columns), "write", res, values, prefix)
