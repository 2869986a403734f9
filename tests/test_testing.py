"""crudrouter_sqla.testing: fresh databases, the app client and its overrides."""

from __future__ import annotations

import os

import pytest
from fastapi import FastAPI
from sqlalchemy import func, inspect, select, text

from crudrouter_sqla import CRUDRouter
from crudrouter_sqla.core import Database, default_session, lifespan
from crudrouter_sqla.testing import app_client, fresh_database
from tests.models import Base, Hero, HeroCreate, HeroRead


async def table_names(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_fresh_database_is_new_and_goes_away(server_url):
    async with fresh_database(server_url, metadata=Base.metadata) as db:
        assert {"heroes", "teams"} <= await table_names(db)
        # Another engine on the same URL (an app built from SQLALCHEMY_URL) sees the same data.
        other = Database(db.url)
        try:
            async with db.open_session() as session:
                session.add(Hero(name="Batman", secret_name="Bruce Wayne"))
            async with other.open_session() as session:
                assert await session.scalar(select(func.count()).select_from(Hero)) == 1
        finally:
            await other.engine.dispose()
        url = db.url
    async with fresh_database(server_url) as second:
        assert second.url != url
        assert await table_names(second) == set()
    if url.get_backend_name() == "postgresql":
        admin = Database(url.set(database="postgres"))
        try:
            async with admin.engine.connect() as connection:
                found = await connection.scalar(
                    text("SELECT count(*) FROM pg_database WHERE datname = :name"),
                    {"name": url.database},
                )
            assert found == 0, f"{url.database} was not dropped"
        finally:
            await admin.engine.dispose()


async def test_fresh_sqlite_file(tmp_path):
    path = tmp_path / "fresh.db"
    async with fresh_database(f"sqlite+aiosqlite:///{path}", metadata=Base.metadata) as db:
        assert "heroes" in await table_names(db)
        assert path.exists()
    assert not path.exists()
    path.write_text("")
    with pytest.raises(ValueError, match="exists"):
        async with fresh_database(f"sqlite+aiosqlite:///{path}"):
            pass


async def test_other_backends_are_refused():
    with pytest.raises(ValueError, match="SQLite and PostgreSQL"):
        async with fresh_database("mysql+aiomysql://u@localhost/db"):
            pass


async def test_app_client_runs_the_lifespan_and_overrides_the_session(
    server_url, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    async with fresh_database(server_url, metadata=Base.metadata) as db:
        monkeypatch.setenv("SQLALCHEMY_URL", db.url.render_as_string(hide_password=False))
        app = FastAPI(lifespan=lifespan)
        app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate))
        async with app_client(app, db) as client:
            assert app.dependency_overrides == {default_session: db.session}
            r = await client.post("/heroes", json={"name": "Flash", "secret_name": "Barry"})
            assert r.status_code == 201, r.text
        assert app.dependency_overrides == {}
        async with db.open_session() as session:
            assert await session.get(Hero, r.json()["id"]) is not None
    assert not list(tmp_path.iterdir()), "no database file may be left behind"


async def test_app_client_overrides_other_session_dependencies(server_url):
    async with fresh_database(server_url, metadata=Base.metadata) as db:
        elsewhere = Database("sqlite+aiosqlite://")  # never connected: every request goes to db
        app = FastAPI()
        app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate, session=elsewhere.session))
        async with app_client(app, db, sessions=[elsewhere.session]) as client:
            r = await client.post("/heroes", json={"name": "Flash", "secret_name": "Barry"})
            assert r.status_code == 201, r.text
            r = await client.get("/heroes")
            assert r.json()["total"] == 1, r.text
        await elsewhere.engine.dispose()


async def test_the_plugin_database_names_itself_in_the_environment(database):
    # Apps built from the environment during the test use the same database.
    assert os.environ["SQLALCHEMY_URL"] == database.url.render_as_string(hide_password=False)
