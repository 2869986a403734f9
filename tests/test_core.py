"""The core package: transactions per request, open_session, several databases, lifespan."""

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crudrouter_sqla.core import Database, DatabaseConnectionError
from tests.models import Base, Team


async def team_count(db: Database) -> int:
    async with db.open_session() as session:
        return (await session.execute(select(func.count()).select_from(Team))).scalar_one()


def team_app(db: Database) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    DB = Annotated[AsyncSession, Depends(db.session)]

    @app.post("/unflushed/{name}")
    async def add_without_flush(name: str, session: DB) -> dict[str, str]:
        # Nothing reaches the database until the dependency commits after this returns.
        session.add(Team(name=name, headquarters="HQ"))
        return {"status": "ok"}

    @app.post("/then-fail/{name}")
    async def write_then_fail(name: str, session: DB) -> None:
        session.add(Team(name=name, headquarters="HQ"))
        await session.flush()
        raise HTTPException(status_code=400, detail="changed my mind")

    @app.post("/then-crash/{name}")
    async def write_then_crash(name: str, session: DB) -> None:
        session.add(Team(name=name, headquarters="HQ"))
        await session.flush()
        raise RuntimeError("boom")

    return app


async def test_commit_happens_before_the_response(db, client_for):
    async with client_for(team_app(db)) as client:
        r = await client.post("/unflushed/Titans")
        assert r.status_code == 200, r.text
        assert await team_count(db) == 1
        # The endpoint returns normally; the commit after it fails on the unique name.
        r = await client.post("/unflushed/Titans")
        assert r.status_code == 409, r.text
        assert "Unique constraint" in r.json()["detail"]
    assert await team_count(db) == 1


async def test_an_exception_in_the_endpoint_rolls_back_what_it_wrote(db, client_for):
    async with client_for(team_app(db), raise_app_exceptions=False) as client:
        r = await client.post("/then-fail/Doom Patrol")
        assert r.status_code == 400, r.text
        r = await client.post("/then-crash/Suicide Squad")
        assert r.status_code == 500
    assert await team_count(db) == 0


async def test_open_session_commits_on_success_and_rolls_back_on_error(db):
    async with db.open_session() as session:
        session.add(Team(name="JSA", headquarters="Brownstone"))
    assert await team_count(db) == 1
    with pytest.raises(ValueError):
        async with db.open_session() as session:
            session.add(Team(name="Outsiders", headquarters="Markovia"))
            await session.flush()
            raise ValueError("abort")
    assert await team_count(db) == 1


async def test_two_databases_in_one_app_stay_separate(tmp_path, client_for):
    first = Database(f"sqlite+aiosqlite:///{tmp_path / 'first.db'}")
    second = Database(f"sqlite+aiosqlite:///{tmp_path / 'second.db'}")
    for db in (first, second):
        await db.create_all(Base.metadata)
    app = FastAPI()

    @app.post("/first/{name}")
    async def add_first(name: str, session: Annotated[AsyncSession, Depends(first.session)]):
        session.add(Team(name=name, headquarters="one"))

    @app.post("/second/{name}")
    async def add_second(name: str, session: Annotated[AsyncSession, Depends(second.session)]):
        session.add(Team(name=name, headquarters="two"))

    async with client_for(app) as client:
        assert (await client.post("/first/a")).status_code == 200
        assert (await client.post("/first/b")).status_code == 200
        assert (await client.post("/second/a")).status_code == 200
    assert await team_count(first) == 2
    assert await team_count(second) == 1
    for db in (first, second):
        await db.engine.dispose()


async def test_unreachable_database_fails_startup_naming_the_url_without_password():
    db = Database("postgresql+asyncpg://hero:s3cr3t-pw@127.0.0.1:1/league")
    app = FastAPI(lifespan=db.lifespan)
    from asgi_lifespan import LifespanManager

    with pytest.raises(DatabaseConnectionError) as info:
        async with LifespanManager(app):
            pass
    message = str(info.value)
    assert "127.0.0.1:1/league" in message
    assert "hero" in message
    assert "s3cr3t-pw" not in message
    assert "s3cr3t-pw" not in repr(db)
    assert info.value.__cause__ is None


async def test_sqlite_enforces_foreign_keys(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'fk.db'}")
    async with db.engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    await db.engine.dispose()


def test_from_env_prefers_sqlalchemy_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///./database_url.db")
    monkeypatch.setenv("SQLALCHEMY_URL", "sqlite+aiosqlite:///./sqlalchemy_url.db")
    assert Database.from_env().url.database == "./sqlalchemy_url.db"
    monkeypatch.delenv("SQLALCHEMY_URL")
    assert Database.from_env().url.database == "./database_url.db"
    monkeypatch.delenv("DATABASE_URL")
    assert Database.from_env().url.database == "./app.db"


async def test_default_session_and_lifespan_read_the_environment(tmp_path, monkeypatch, client_for):
    from crudrouter_sqla.core import Session, lifespan

    monkeypatch.setenv("SQLALCHEMY_URL", f"sqlite+aiosqlite:///{tmp_path / 'default.db'}")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = FastAPI(lifespan=lifespan)

    @app.get("/where")
    async def where(session: Session) -> str:
        return str((await session.execute(text("PRAGMA database_list"))).all()[0][2])

    async with client_for(app) as client:
        r = await client.get("/where")
        assert r.status_code == 200, r.text
        assert r.json().endswith("default.db")


async def test_in_memory_sqlite_is_shared_by_all_sessions(client_for):
    db = Database("sqlite+aiosqlite://")
    await db.create_all(Base.metadata)
    async with db.open_session() as session:
        session.add(Team(name="Shared", headquarters="RAM"))
    assert await team_count(db) == 1
    await db.engine.dispose()


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://hero@db.example/league", "postgresql+asyncpg://hero@db.example/league"),
        ("postgresql://db.example/league", "postgresql+asyncpg://db.example/league"),
        ("sqlite:///./app.db", "sqlite+aiosqlite:///./app.db"),
        ("postgresql+asyncpg://db.example/x", "postgresql+asyncpg://db.example/x"),
    ],
    ids=["postgres-scheme", "postgresql", "sqlite", "explicit-driver"],
)
def test_urls_without_an_async_driver_get_one(given, used):
    assert Database(given).url.render_as_string() == used
