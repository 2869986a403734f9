"""The pool keeps the connections it opens: concurrent requests reuse them instead of opening
and closing a connection (an aiosqlite thread, a PostgreSQL backend) every few requests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import NullPool, StaticPool

from crudrouter_sqla.core import Database
from tests.apps import heroes_app, seed_hero
from tests.models import Base

CONCURRENCY = 16
ROUNDS = 15
POOL = 15  # the default most connections, all kept


class ConnectCounter:
    """Counts the DBAPI connections an engine opens and closes."""

    def __init__(self, db: Database) -> None:
        self.opened = self.closed = 0
        event.listen(db.engine.sync_engine, "connect", self._open)
        event.listen(db.engine.sync_engine, "close", self._close)

    def _open(self, *_args: Any) -> None:
        self.opened += 1

    def _close(self, *_args: Any) -> None:
        self.closed += 1


async def _mixed_requests(client: Any, worker: int, hero_ids: list[int]) -> None:
    for i in range(ROUNDS):
        hero_id = hero_ids[(worker + i) % len(hero_ids)]
        kind = (worker + i) % 4
        if kind == 0:
            r = await client.get(f"/heroes/{hero_id}")
        elif kind == 1:
            r = await client.get("/heroes?limit=5")
        elif kind == 2:
            r = await client.patch(f"/heroes/{hero_id}", json={"age": i})
        else:
            body = {"name": f"w{worker}-{i}", "secret_name": "s"}
            r = await client.post("/heroes", json=body)
        assert r.status_code < 300, r.text


async def test_concurrent_requests_reuse_the_pooled_connections(db_url: str, client_for):
    db = Database(db_url)
    counter = ConnectCounter(db)
    await db.create_all(Base.metadata)
    try:
        async with client_for(heroes_app(db)) as client:
            ids = [(await seed_hero(client, f"Hero {n}"))["id"] for n in range(4)]
            await asyncio.gather(*(_mixed_requests(client, w, ids) for w in range(CONCURRENCY)))
            served = CONCURRENCY * ROUNDS
            # Every connection opened is still in the pool: none was opened twice.
            assert counter.opened <= POOL, (counter.opened, served)
            assert counter.closed == 0, counter.closed
            assert db.engine.pool.checkedin() == counter.opened  # type: ignore[attr-defined]
    finally:
        await db.dispose()


async def test_sqlalchemy_defaults_would_open_connections_under_the_same_load(
    tmp_path: Any, client_for
):
    # The cause, shown: 5 kept + 10 overflow closes an overflow connection on every return
    # while 5 are idle, so the same load opens more connections than it ever holds at once.
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'churn.db'}", pool_size=5, max_overflow=10)
    counter = ConnectCounter(db)
    await db.create_all(Base.metadata)
    try:
        async with client_for(heroes_app(db)) as client:
            ids = [(await seed_hero(client, f"Hero {n}"))["id"] for n in range(4)]
            await asyncio.gather(*(_mixed_requests(client, w, ids) for w in range(CONCURRENCY)))
            assert counter.closed > 0, "no overflow connection was closed"
    finally:
        await db.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_pool_defaults_and_explicit_settings(tmp_path: Any, backend: str):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}"
    pool: Any = Database(url).engine.pool
    assert (pool.size(), pool._max_overflow) == (POOL, 0)
    pool = Database(url, pool_size=3).engine.pool
    assert (pool.size(), pool._max_overflow) == (3, 10)  # SQLAlchemy's overflow default
    pool = Database(url, max_overflow=2).engine.pool
    assert (pool.size(), pool._max_overflow) == (5, 2)
    assert isinstance(Database(url, poolclass=NullPool).engine.pool, NullPool)
    assert isinstance(Database("sqlite+aiosqlite://").engine.pool, StaticPool)
