"""Seeded databases: one seeded template per run, and a fresh copy of it for every server.

Every server start gets its own copy, so rows created while measuring one variant never reach
another: a copy of the SQLite file, or on PostgreSQL a database made from a template database.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from crudrouter_sqla.core import Database

from .models import Base, Hero, Team
from .noise import postmaster_for_port

TEAMS = 10
BATCH = 5_000


def hero_rows(count: int) -> list[dict[str, Any]]:
    """``count`` heroes; their ids will be 1..count. Ages 10..90, one in ten unknown."""
    rng = random.Random(42)
    return [
        {
            "name": f"hero-{i:06d}",
            "secret_name": f"Secret {i}",
            "age": None if i % 10 == 0 else rng.randint(10, 90),
            "team_id": None if i % 7 == 0 else i % TEAMS + 1,
        }
        for i in range(1, count + 1)
    ]


async def seed(url: str, rows: int, *, sqlite_wal: bool = False) -> None:
    """Create the tables at ``url`` and fill them with teams and ``rows`` heroes."""
    db = Database(url)
    try:
        if sqlite_wal:
            # WAL lets readers run beside a writer; it is a property of the file, so every copy
            # (and so every variant) has it.
            async with db.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        await db.create_all(Base.metadata)
        teams = [{"name": f"Team {i}", "headquarters": f"Tower {i}"} for i in range(1, TEAMS + 1)]
        heroes = hero_rows(rows)
        async with db.engine.begin() as conn:
            await conn.execute(insert(Team), teams)
            for start in range(0, rows, BATCH):
                await conn.execute(insert(Hero), heroes[start : start + BATCH])
            last = (await conn.execute(select(func.max(Hero.id)))).scalar_one()
        if last != rows:
            raise RuntimeError(f"seeding gave ids up to {last}, expected 1..{rows}")
    finally:
        await db.engine.dispose()


class SqliteStore:
    """SQLite files under ``workdir``: ``seed.db`` and one copy per server."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.template = workdir / "seed.db"

    def prepare(self, rows: int) -> None:
        asyncio.run(seed(self.url(self.template), rows, sqlite_wal=True))

    def pids(self) -> set[int]:
        """Processes serving the database, besides the app servers: none for SQLite."""
        return set()

    def version(self) -> str:
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (WAL)"

    @staticmethod
    def url(path: Path) -> str:
        return f"sqlite+aiosqlite:///{path}"

    def fresh(self, name: str) -> str:
        """Copy the seeded file to ``name.db`` and return its URL."""
        path = self.workdir / f"{name}.db"
        shutil.copyfile(self.template, path)
        return self.url(path)

    def drop(self, name: str) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (self.workdir / f"{name}.db{suffix}").unlink(missing_ok=True)


class PostgresStore:
    """Databases on one throwaway server: ``bench_seed`` and one copy of it per server start."""

    TEMPLATE = "bench_seed"

    def __init__(self, server: Any) -> None:
        self.server = server

    def prepare(self, rows: int) -> None:
        self._admin(f'CREATE DATABASE "{self.TEMPLATE}"')
        url = self.server.url(self.TEMPLATE)
        asyncio.run(seed(url, rows))
        # Statistics and the visibility map travel with the template into every copy.
        asyncio.run(_autocommit(url, "VACUUM ANALYZE"))

    def pids(self) -> set[int]:
        """The PostgreSQL server process; its backends are its children."""
        pid = postmaster_for_port(self.server.port)
        return set() if pid is None else {pid}

    def version(self) -> str:
        return f"PostgreSQL {self.server.version}"

    def fresh(self, name: str) -> str:
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.TEMPLATE}"')
        return str(self.server.url(name))

    def drop(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        asyncio.run(_autocommit(self.server.url("postgres"), sql))


async def _autocommit(url: str, sql: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def open_store(db: str, workdir: Path) -> Iterator[SqliteStore | PostgresStore | None]:
    """The store for ``db``; None (with a message) when PostgreSQL cannot be started here."""
    if db == "sqlite":
        yield SqliteStore(workdir)
        return
    from tests.support.pg import PostgresServer, find_pg_bindir

    if find_pg_bindir() is None:
        print(
            "PostgreSQL skipped: no server binaries (initdb, pg_ctl, postgres) found; "
            "install the postgresql package to benchmark it.",
            file=sys.stderr,
        )
        yield None
        return
    try:
        server = PostgresServer()
    except RuntimeError as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        yield None
        return
    with server:
        yield PostgresStore(server)
