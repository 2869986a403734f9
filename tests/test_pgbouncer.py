"""The CRUD flow and a concurrent burst through a real PgBouncer in transaction pooling mode."""

from __future__ import annotations

import asyncio

import pytest

from crudrouter_sqla.core import Database
from tests.apps import heroes_app, seed_hero, seed_team
from tests.conftest import new_pg_database
from tests.models import Base
from tests.support.pg import PostgresServer
from tests.support.pgbouncer import PgBouncer

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def bounced_db(pg_server: PostgresServer, pgbouncer: PgBouncer):
    name = await new_pg_database(pg_server)
    db = Database(pgbouncer.url(name), pgbouncer=True, pool_size=20, max_overflow=0)
    await db.create_all(Base.metadata)
    try:
        yield db
    finally:
        await db.dispose()


async def test_crud_flow_through_pgbouncer(bounced_db: Database, client_for):
    async with client_for(heroes_app(bounced_db)) as client:
        team = await seed_team(client)
        hero = await seed_hero(client, "Batman", age=42, team_id=team)
        r = await client.get(f"/heroes/{hero['id']}")
        assert r.status_code == 200, r.text
        r = await client.patch(f"/heroes/{hero['id']}", json={"age": 43})
        assert r.status_code == 200 and r.json()["age"] == 43, r.text
        r = await client.put(f"/heroes/{hero['id']}", json={"name": "B", "secret_name": "W"})
        assert r.status_code == 200, r.text
        r = await client.post("/heroes", json={"name": "B", "secret_name": "x"})
        assert r.status_code == 409, r.text
        r = await client.get("/heroes", params={"sort": "-age", "limit": 1, "count": "estimated"})
        assert r.status_code == 200, r.text
        r = await client.get("/heroes", params={"limit": 1, "cursor": r.json()["next_cursor"]})
        assert r.status_code == 404, r.text  # made for another sort
        r = await client.delete(f"/heroes/{hero['id']}")
        assert r.status_code == 204, r.text
        r = await client.get(f"/heroes/{hero['id']}")
        assert r.status_code == 404, r.text


async def test_a_concurrent_burst_through_pgbouncer(bounced_db: Database, client_for):
    async with client_for(heroes_app(bounced_db)) as client:
        created = await asyncio.gather(
            *[client.post("/heroes", json={"name": f"h{i}", "secret_name": "s"}) for i in range(60)]
        )
        assert all(r.status_code == 201 for r in created), [r.text for r in created]
        ids = [r.json()["id"] for r in created]
        burst = []
        for i, hero_id in enumerate(ids):
            burst.append(client.get(f"/heroes/{hero_id}"))
            burst.append(client.patch(f"/heroes/{hero_id}", json={"age": i}))
            burst.append(client.get("/heroes", params={"limit": 5, "sort": "-age"}))
        rs = await asyncio.gather(*burst)
        assert [r.status_code for r in rs if r.status_code != 200] == [], [
            r.text for r in rs if r.status_code != 200
        ]
        r = await client.get("/heroes", params={"limit": 1})
        assert r.json()["total"] == 60


def test_pgbouncer_option_turns_off_prepared_statement_caches():
    db = Database("postgresql+asyncpg://app@pooler/app", pgbouncer=True)
    assert db.pgbouncer
    with pytest.raises(ValueError, match="ALTER ROLE"):
        Database("postgresql+asyncpg://app@pooler/app", pgbouncer=True, statement_timeout=5)
    with pytest.raises(ValueError, match="PostgreSQL"):
        Database("sqlite+aiosqlite://", pgbouncer=True)
