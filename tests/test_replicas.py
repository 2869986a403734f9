"""Read replicas: reads of read-only requests on a real streaming replica, everything of a
request that writes on the primary."""

import asyncio
import time
from typing import Annotated

import asyncpg
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crudrouter_sqla.core import Database
from tests.apps import heroes_app, seed_hero
from tests.conftest import new_pg_database
from tests.models import Base, Hero
from tests.support.pg import PostgresServer

pytestmark = pytest.mark.postgres_only


async def replay(replica: PostgresServer, name: str, paused: bool) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=replica.port, user="postgres", database=name
    )
    try:
        await conn.execute(f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()")
    finally:
        await conn.close()


async def until(check, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


@pytest.fixture
async def replicated(pg_server: PostgresServer, pg_replica: PostgresServer):
    name = await new_pg_database(pg_server)
    db = Database(pg_server.url(name), replica_urls=[pg_replica.url(name)])
    await db.create_all(Base.metadata)

    async def replicated_yet() -> bool:
        try:
            async with db.open_session(replica=True) as session:
                await session.execute(select(Hero.id).limit(1))
            return True
        except Exception:
            return False

    assert await until(replicated_yet), "the tables never reached the replica"
    try:
        yield db, name
    finally:
        await db.dispose()


def recovery_app(db: Database) -> FastAPI:
    app = heroes_app(db)
    DBSession = Annotated[AsyncSession, Depends(db.session)]

    async def where(session: AsyncSession) -> str:
        standby = (await session.execute(text("SELECT pg_is_in_recovery()"))).scalar_one()
        return "replica" if standby else "primary"

    @app.get("/where")
    async def read(session: DBSession) -> str:
        return await where(session)

    @app.post("/where")
    async def write(session: DBSession) -> str:
        return await where(session)

    @app.get("/where-after-write")
    async def read_then_write(session: DBSession) -> list[str]:
        first = await where(session)
        await session.execute(select(Hero).with_for_update().limit(1))
        return [first, await where(session)]

    @app.get("/where-pinned")
    async def pinned(session: Annotated[AsyncSession, Depends(db.primary_session)]) -> str:
        return await where(session)

    return app


async def test_reads_run_on_the_replica_and_writes_on_the_primary(replicated, client_for):
    db, _name = replicated
    async with client_for(recovery_app(db)) as client:
        assert (await client.get("/where")).json() == "replica"
        assert (await client.post("/where")).json() == "primary"
        assert (await client.get("/where-after-write")).json() == ["replica", "primary"]
        assert (await client.get("/where-pinned")).json() == "primary"
    async with db.open_session() as session:
        assert (await session.execute(text("SELECT pg_is_in_recovery()"))).scalar_one() is False
    async with db.open_session(replica=True) as session:
        assert (await session.execute(text("SELECT pg_is_in_recovery()"))).scalar_one() is True


async def test_generated_routes_read_from_the_replica(replicated, pg_replica, client_for):
    db, name = replicated
    async with client_for(recovery_app(db)) as client:
        hero = await seed_hero(client, "Seen", age=1)

        async def on_replica() -> bool:
            return (await client.get(f"/heroes/{hero['id']}")).status_code == 200

        assert await until(on_replica)
        await replay(pg_replica, name, paused=True)
        try:
            # Written on the primary; the paused replica does not have it.
            late = await seed_hero(client, "Late", age=2)
            r = await client.get(f"/heroes/{late['id']}")
            assert r.status_code == 404, r.text
            r = await client.get("/heroes")
            assert [h["name"] for h in r.json()["items"]] == ["Seen"], r.text
            # Requests that write do all their work, reads included, on the primary.
            r = await client.patch(f"/heroes/{late['id']}", json={"age": 3})
            assert r.status_code == 200 and r.json()["age"] == 3, r.text
            r = await client.put(f"/heroes/{late['id']}", json={"name": "L", "secret_name": "s"})
            assert r.status_code == 200, r.text
            r = await client.post("/heroes", json={"name": "L", "secret_name": "dup"})
            assert r.status_code == 409, r.text
        finally:
            await replay(pg_replica, name, paused=False)

        async def caught_up() -> bool:
            r = await client.get(f"/heroes/{late['id']}")
            return r.status_code == 200 and r.json()["name"] == "L"

        assert await until(caught_up)
        r = await client.delete(f"/heroes/{late['id']}")
        assert r.status_code == 204, r.text
