"""A frozen database server (SIGSTOP: it accepts connections and answers nothing) is a quick
503 with Retry-After, not a hang, and the app recovers when the server resumes."""

from __future__ import annotations

import asyncio
import time

import pytest

from crudrouter_sqla.core import Database
from tests.apps import heroes_app, seed_hero
from tests.models import Base
from tests.support.pg import PostgresServer

pytestmark = [pytest.mark.postgres_only, pytest.mark.parametrize("backend", ["postgresql"])]

TOO_SLOW = "The database did not answer in time; try again later"


async def test_client_timeouts_have_defaults(db_url: str):
    db = Database(db_url)
    try:
        assert db.engine.pool.timeout() == 5
        async with db.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw._config.command_timeout == 5
        with pytest.raises(ValueError, match="command_timeout"):
            Database(db_url, command_timeout=0)
    finally:
        await db.dispose()


async def test_a_frozen_server_answers_503_quickly_and_recovers(
    db_url: str, pg_server: PostgresServer, client_for
):
    db = Database(db_url, connect_timeout=1, command_timeout=1, pool_timeout=1, pool_size=4)
    await db.create_all(Base.metadata)
    try:
        async with client_for(heroes_app(db)) as client:
            hero = await seed_hero(client, "Frozen")
            warm = await asyncio.gather(*[client.get("/heroes") for _ in range(4)])
            assert all(r.status_code == 200 for r in warm)
            pg_server.freeze()
            try:
                started = time.monotonic()
                rs = await asyncio.gather(
                    client.get("/heroes"),
                    client.get(f"/heroes/{hero['id']}"),
                    client.patch(f"/heroes/{hero['id']}", json={"age": 3}),
                    client.post("/heroes", json={"name": "New", "secret_name": "n"}),
                    client.get("/heroes"),
                    client.get("/heroes"),
                )
                elapsed = time.monotonic() - started
                for r in rs:
                    assert r.status_code == 503, r.text
                    assert r.json() == {"detail": TOO_SLOW}, r.text
                    assert r.headers["retry-after"].isdigit()
                assert elapsed < 5, elapsed
            finally:
                pg_server.thaw()
            deadline = time.monotonic() + 10
            while True:
                r = await client.get(f"/heroes/{hero['id']}")
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert r.status_code == 200, r.text
            r = await client.patch(f"/heroes/{hero['id']}", json={"age": 4})
            assert r.status_code == 200, r.text
    finally:
        await db.dispose()
