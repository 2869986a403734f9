"""A synchronous Session dependency is refused when the router is built where that can be
told, and is a clear 500 at request time where it cannot."""

from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from crudrouter_sqla import ConfigurationError, CRUDRouter
from crudrouter_sqla.core import Database
from crudrouter_sqla.core import Session as DefaultSession
from tests.models import Base, Hero, HeroRead

sync_engine = create_engine("sqlite://")
SessionLocal = sessionmaker(sync_engine)


def get_db():
    with SessionLocal() as session:
        yield session


def get_db_annotated() -> Iterator[Session]:
    with SessionLocal() as session:
        yield session


def plain_annotated() -> Session:
    return SessionLocal()


async def async_but_sync_session() -> Session:
    return SessionLocal()


@pytest.mark.parametrize(
    "dependency",
    [get_db, get_db_annotated, plain_annotated, async_but_sync_session, SessionLocal, Session],
    ids=["generator", "annotated-generator", "plain", "async-def", "sessionmaker", "class"],
)
def test_sync_sessions_are_refused_when_the_router_is_built(dependency):
    with pytest.raises(ConfigurationError, match="AsyncSession") as info:
        CRUDRouter(Hero, HeroRead, session=dependency)
    assert "db.session" in str(info.value)


def test_an_async_sessionmaker_is_refused():
    maker = async_sessionmaker(Database("sqlite+aiosqlite://").engine)
    with pytest.raises(ConfigurationError, match="never be committed"):
        CRUDRouter(Hero, HeroRead, session=maker)


def test_async_dependencies_and_the_alias_are_accepted():
    db = Database("sqlite+aiosqlite://")

    async def mine(session: Annotated[AsyncSession, Depends(db.session)]) -> AsyncSession:
        return session

    for dependency in (db.session, db.primary_session, DefaultSession, mine, None):
        CRUDRouter(Hero, HeroRead, session=dependency)


async def test_a_sync_session_seen_only_at_request_time_is_a_clear_500(
    tmp_path, client_for, caplog
):
    engine = create_engine(f"sqlite:///{tmp_path / 'sync.db'}")
    Base.metadata.create_all(engine)
    local = sessionmaker(engine)

    def unannotated():  # nothing to tell it by before a request
        return local()

    from fastapi import FastAPI

    app = FastAPI()
    app.include_router(CRUDRouter(Hero, HeroRead, session=unannotated))
    async with client_for(app) as client:
        r = await client.get("/heroes")
    assert r.status_code == 500, r.text
    detail = r.json()["detail"]
    assert "not an AsyncSession" in detail and "db.session" in detail, detail
    assert "db.session" in caplog.text
    engine.dispose()


def test_a_dialect_the_router_cannot_serve_is_refused_naming_it(monkeypatch):
    db = Database("sqlite+aiosqlite://")
    # As if the URL named a database of another dialect (its driver need not be installed).
    monkeypatch.setattr(db, "url", db.url.set(drivername="mssql+aioodbc"))
    with pytest.raises(ConfigurationError, match="'mssql' dialect"):
        CRUDRouter(Hero, HeroRead, session=db.session)
