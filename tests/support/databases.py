"""Test databases with tables created from a metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import MetaData

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
