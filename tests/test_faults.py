"""Database faults: the server going away and coming back, and statements that take too long.

The outage tests stop the session's throwaway PostgreSQL server (``pg_ctl stop -m immediate``,
a crash as far as clients can tell) under a running app, and start it again in a ``finally`` so
the tests after them find it up. The server runs with ``fsync`` and ``synchronous_commit`` off,
so a CHECKPOINT before each stop keeps the rows the test wrote.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crudrouter_sqla.core import Database
from tests.apps import heroes_app, seed_hero, seed_team
from tests.models import Base, Hero
from tests.support.pg import PostgresServer

UNAVAILABLE = "The database is unavailable; try again later"
TOO_SLOW = "The database did not answer in time; try again later"
LEAKS = re.compile(r"Traceback|asyncpg|psycopg|sqlite|sqlalchemy|SELECT|Errno|refused", re.I)

postgresql_only = [pytest.mark.postgres_only, pytest.mark.parametrize("backend", ["postgresql"])]


@pytest.fixture
async def pg_db(db_url: str) -> AsyncIterator[Database]:
    """A `Database` on a new PostgreSQL database with the test tables; pool of 10."""
    database = Database(db_url, pool_size=10)
    await database.create_all(Base.metadata)
    try:
        yield database
    finally:
        await database.engine.dispose()


async def checkpoint(server: PostgresServer) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=server.port, user="postgres")
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def assert_unavailable(r: httpx.Response, detail: str = UNAVAILABLE) -> None:
    assert r.status_code == 503, r.text
    assert r.json() == {"detail": detail}, r.text
    assert r.headers.get("retry-after", "").isdigit(), r.headers
    assert not LEAKS.search(r.text), r.text


async def every_route(client: httpx.AsyncClient, hero_id: int) -> list[httpx.Response]:
    """One request to each generated route of /heroes, and a list of /teams."""
    return [
        await client.get("/heroes"),
        await client.get(f"/heroes/{hero_id}"),
        await client.post("/heroes", json={"name": "New", "secret_name": "n"}),
        await client.put(f"/heroes/{hero_id}", json={"name": "Put", "secret_name": "p"}),
        await client.patch(f"/heroes/{hero_id}", json={"age": 40}),
        await client.delete(f"/heroes/{hero_id}"),
        await client.get("/teams", params={"count": "estimated"}),
    ]


async def warm_pool(client: httpx.AsyncClient, n: int = 8) -> None:
    """Open several pooled connections, so that the pool holds connections the outage kills."""
    rs = await asyncio.gather(*[client.get("/heroes") for _ in range(n)])
    assert all(r.status_code == 200 for r in rs), [r.text for r in rs]


async def hero_names(db: Database) -> list[str]:
    async with db.open_session() as session:
        return list(await session.scalars(select(Hero.name).order_by(Hero.id)))


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.postgres_only
async def test_outage_is_503_with_retry_after_then_recovers_without_restart(
    pg_db, pg_server, client_for
):
    app = heroes_app(pg_db)
    async with client_for(app, raise_app_exceptions=False) as client:
        team_id = await seed_team(client)
        hero = await seed_hero(client, "Cyborg", team_id=team_id)
        await warm_pool(client)
        await checkpoint(pg_server)
        try:
            # In a thread, as a real outage does not stop the app's event loop.
            await asyncio.to_thread(pg_server.stop, "immediate")
            started = time.monotonic()
            for r in await every_route(client, hero["id"]):
                assert_unavailable(r)
            # Concurrent requests too, when every pooled connection is dead or refused.
            rs = await asyncio.gather(*[client.get(f"/heroes/{hero['id']}") for _ in range(10)])
            for r in rs:
                assert_unavailable(r)
            assert time.monotonic() - started < 5, "an unreachable server must fail fast"
        finally:
            await asyncio.to_thread(pg_server.start)
        # The same app, without a restart: every request succeeds from the first one on.
        r = await client.get(f"/heroes/{hero['id']}")
        assert r.status_code == 200, r.text
        assert r.json() == hero
        rs = await asyncio.gather(*[client.get("/heroes") for _ in range(10)])
        assert [r.status_code for r in rs] == [200] * 10, [r.text for r in rs]
        r = await client.patch(f"/heroes/{hero['id']}", json={"age": 41})
        assert r.status_code == 200, r.text
    assert await hero_names(pg_db) == ["Cyborg"]


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.postgres_only
async def test_pool_drops_connections_a_restart_closed(pg_db, pg_server, client_for):
    """No request during the outage: the pool still holds the dead connections afterwards, and
    not one request may pay for them."""
    async with client_for(heroes_app(pg_db), raise_app_exceptions=False) as client:
        hero = await seed_hero(client, "Raven")
        await warm_pool(client)
        await checkpoint(pg_server)
        try:
            await asyncio.to_thread(pg_server.stop, "immediate")
        finally:
            await asyncio.to_thread(pg_server.start)
        statuses = [(await client.get(f"/heroes/{hero['id']}")).status_code for _ in range(10)]
        assert statuses == [200] * 10
        rs = await asyncio.gather(*[client.get(f"/heroes/{hero['id']}") for _ in range(10)])
        assert [r.status_code for r in rs] == [200] * 10, [r.text for r in rs]


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.postgres_only
async def test_unreachable_server_at_request_time_is_503(pg_db, client_for):
    """A pool that cannot connect at all (refused) answers 503, not a 500."""
    app = heroes_app(pg_db)
    async with client_for(app, raise_app_exceptions=False) as client:
        await seed_hero(client, "Starfire")
    refused = Database(pg_db.url.set(port=1))
    app = heroes_app(refused)
    app.router.lifespan_context = no_lifespan  # its start-up check would refuse to start
    async with client_for(app, raise_app_exceptions=False) as client:
        for r in await every_route(client, 1):
            assert_unavailable(r)
    await refused.engine.dispose()


@asynccontextmanager
async def no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


def slow_app(db: Database, seconds: float) -> FastAPI:
    """The heroes app and ``GET /slow``, a statement that takes ``seconds``."""
    app = heroes_app(db)

    @app.get("/slow", responses={503: {"description": "The database is unavailable"}})
    async def slow(session: AsyncSession = Depends(db.session)) -> dict[str, Any]:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        elif session.get_bind().dialect.name in ("mysql", "mariadb"):
            await session.execute(text("SELECT SLEEP(:s)"), {"s": seconds})
        else:
            # SQLite has no sleep: count to a number that takes about that long.
            n = int(seconds * 20_000_000)
            statement = text(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < :n) "
                "SELECT count(*) FROM c"
            )
            await session.execute(statement, {"n": n})
        return {"slept": seconds}

    return app


async def test_statement_timeout_is_503_and_the_connection_stays_usable(
    db_url, backend, client_for
):
    db = Database(db_url, statement_timeout=0.5, pool_size=1, max_overflow=0)
    await db.create_all(Base.metadata)
    async with client_for(slow_app(db, 3), raise_app_exceptions=False) as client:
        started = time.monotonic()
        r = await client.get("/slow")
        elapsed = time.monotonic() - started
        assert_unavailable(r, TOO_SLOW)
        assert elapsed < 2.5, f"the statement ran {elapsed:.1f} s past a 0.5 s timeout"
        # One pooled connection: the one the timeout hit must still serve requests.
        await seed_hero(client, "Beast Boy")
        r = await client.get("/heroes")
        assert r.status_code == 200 and r.json()["total"] == 1, r.text
    await db.engine.dispose()


async def test_statements_within_the_timeout_run(db_url, client_for):
    db = Database(db_url, statement_timeout=5)
    await db.create_all(Base.metadata)
    async with client_for(slow_app(db, 0.05)) as client:
        r = await client.get("/slow")
        assert r.status_code == 200, r.text
        hero = await seed_hero(client, "Kid Flash")
        assert (await client.get(f"/heroes/{hero['id']}")).status_code == 200
    await db.engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.postgres_only
async def test_a_write_blocked_by_a_lock_times_out_as_503(db_url, pg_server, client_for):
    """A CRUD route waiting on a row another transaction holds is cancelled by the timeout."""
    db = Database(db_url, statement_timeout=0.5)
    await db.create_all(Base.metadata)
    async with client_for(heroes_app(db), raise_app_exceptions=False) as client:
        hero = await seed_hero(client, "Jericho")
        holder = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            async with holder.transaction():
                await holder.execute("SELECT * FROM heroes WHERE id = $1 FOR UPDATE", hero["id"])
                started = time.monotonic()
                r = await client.patch(f"/heroes/{hero['id']}", json={"age": 20})
                assert_unavailable(r, TOO_SLOW)
                assert time.monotonic() - started < 2.5
        finally:
            await holder.close()
        r = await client.patch(f"/heroes/{hero['id']}", json={"age": 20})
        assert r.status_code == 200, r.text
    await db.engine.dispose()


def test_statement_timeout_is_checked_when_the_database_is_built():
    for bad in (0, -1, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="statement_timeout"):
            Database("sqlite+aiosqlite://", statement_timeout=bad)
    with pytest.raises(ValueError, match="statement_timeout"):
        Database("mssql+aioodbc://u@h/db", statement_timeout=1)


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.postgres_only
async def test_statement_timeout_is_a_setting_of_each_postgresql_connection(db_url):
    db = Database(
        db_url,
        statement_timeout=0.25,
        connect_args={"server_settings": {"application_name": "heroes-api"}},
    )
    async with db.engine.connect() as connection:
        show = "SELECT current_setting('statement_timeout'), current_setting('application_name')"
        assert (await connection.execute(text(show))).one() == ("250ms", "heroes-api")
    await db.engine.dispose()


async def test_an_oserror_of_the_app_itself_is_not_a_503(db, client_for):
    """Only errors raised in SQLAlchemy or a driver are the database's; the app's own stay 500."""
    app = heroes_app(db)

    @app.get("/config")
    async def read_config(session: AsyncSession = Depends(db.session)) -> dict[str, str]:
        await session.execute(text("SELECT 1"))
        raise FileNotFoundError("settings.toml")

    async with client_for(app, raise_app_exceptions=False) as client:
        r = await client.get("/config")
        assert r.status_code == 500, r.text
        assert (await client.get("/heroes")).status_code == 200
