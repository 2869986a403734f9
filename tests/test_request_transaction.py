"""The request transaction on PostgreSQL: the generated read routes run without BEGIN and
COMMIT; everything else, a user's own endpoints included, keeps its transaction."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, HTTPException
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.ext.asyncio import AsyncSession

from crudrouter_sqla.core import Database
from tests.apps import heroes_app, seed_hero
from tests.models import Base, Hero

pytestmark = [pytest.mark.postgres_only, pytest.mark.parametrize("backend", ["postgresql"])]


@pytest.fixture
def begins(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the BEGINs asyncpg sends (one per transaction block)."""
    count = [0]
    start = AsyncAdapt_asyncpg_connection._start_transaction

    async def counting(self: Any) -> None:
        if self.isolation_level != "autocommit":
            count[0] += 1
        await start(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "_start_transaction", counting)
    return count


async def test_generated_reads_send_no_begin_and_writes_do(db_url: str, client_for, begins):
    # One connection, so a connection used without a transaction block comes back to the next
    # request as it was.
    db = Database(db_url, pool_size=1, max_overflow=0)
    await db.create_all(Base.metadata)
    try:
        async with client_for(heroes_app(db)) as client:
            hero = await seed_hero(client, "Batman")
            begins[0] = 0
            r = await client.get(f"/heroes/{hero['id']}")
            assert r.status_code == 200, r.text
            r = await client.get("/heroes")
            assert r.status_code == 200, r.text
            assert r.json()["total"] == 1
            r = await client.get("/heroes/999")
            assert r.status_code == 404, r.text
            assert begins[0] == 0
            r = await client.patch(f"/heroes/{hero['id']}", json={"age": 40})
            assert r.status_code == 200, r.text
            assert begins[0] == 1
            r = await client.post("/heroes", json={"name": "Batman", "secret_name": "again"})
            assert r.status_code == 409, r.text
            assert begins[0] == 2
    finally:
        await db.dispose()


async def test_own_endpoints_keep_their_transaction(db_url: str, client_for, begins):
    db = Database(db_url, pool_size=1, max_overflow=0)
    await db.create_all(Base.metadata)
    app = heroes_app(db)
    seen: list[str] = []

    @app.get("/write-then-fail")
    async def write_then_fail(session: AsyncSession = Depends(db.session)) -> None:
        session.add(Hero(name="Ghost", secret_name="g"))
        await session.flush()
        raise HTTPException(status_code=400, detail="changed my mind")

    async def uses_session(session: AsyncSession = Depends(db.session)) -> None:
        level = (await session.execute(text("SHOW transaction_isolation"))).scalar_one()
        seen.append(level)

    @app.get("/count", dependencies=[Depends(uses_session)])
    async def count(session: AsyncSession = Depends(db.session)) -> int:
        return int((await session.scalar(select(func.count()).select_from(Hero))) or 0)

    try:
        async with client_for(app) as client:
            begins[0] = 0
            r = await client.get("/write-then-fail")
            assert r.status_code == 400, r.text
            r = await client.get("/count")
            assert r.status_code == 200, r.text
            assert r.json() == 0  # the GET's write was rolled back
            assert begins[0] == 2
            assert seen == ["read committed"]
    finally:
        await db.dispose()


async def test_a_dependency_that_reads_first_keeps_the_transaction(db_url: str, client_for, begins):
    db = Database(db_url)
    await db.create_all(Base.metadata)
    scoped: list[int] = []

    async def scope(session: AsyncSession = Depends(db.session)) -> Any:
        scoped.append((await session.execute(text("select 1"))).scalar_one())
        return None

    try:
        async with client_for(heroes_app(db, scope=scope)) as client:
            hero = await seed_hero(client, "Robin")
            before = begins[0]
            r = await client.get(f"/heroes/{hero['id']}")
            assert r.status_code == 200, r.text
            assert begins[0] == before + 1
            assert scoped
    finally:
        await db.dispose()


async def test_pgbouncer_and_an_isolation_level_keep_transactions(db_url: str):
    assert Database(db_url).autocommit_reads
    assert not Database(db_url, pgbouncer=True).autocommit_reads
    assert not Database(db_url, isolation_level="REPEATABLE READ").autocommit_reads
    assert not Database("sqlite+aiosqlite://").autocommit_reads
