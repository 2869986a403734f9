"""Test databases with tables created from a metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import MetaData, event

from crudrouter_sqla.core import Database


@asynccontextmanager
async def database_with(url: str, metadata: MetaData) -> AsyncIterator[Database]:
    """A `Database` on ``url`` with the tables of ``metadata`` created; disposed afterwards."""
    database = Database(url)
    await database.create_all(metadata)
    try:
        yield database
    finally:
        await database.engine.dispose()


@contextmanager
def counting(db: Database) -> Iterator[list[str]]:
    """Collect the SQL statements the database runs inside the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
