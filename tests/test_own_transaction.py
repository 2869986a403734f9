"""Routes on a `Database` open the request transaction themselves; the session dependency still
decides: an override is used, and a dependency that takes the session shares the route's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crudrouter_sqla import CRUDRouter
from crudrouter_sqla.core import Database
from tests.models import Base, Hero, HeroCreate, HeroRead, Team


def auditor(db: Database, calls: list[int]) -> Any:
    """A dependency that writes an audit row through ``db.session`` and counts its calls."""

    async def audit(session: AsyncSession = Depends(db.session)) -> None:
        calls.append(1)
        await session.execute(insert(Team).values(name=f"audit {len(calls)}", headquarters="-"))

    return audit


async def post_twice(client: Any) -> None:
    """Create a hero, then the same hero again: 201, then 409."""
    body = {"name": "Batman", "secret_name": "Bruce"}
    assert (await client.post("/heroes", json=body)).status_code == 201
    r = await client.post("/heroes", json=body)
    assert r.status_code == 409, r.text


@pytest.mark.parametrize("where", ["router", "include", "route"])
async def test_a_dependency_on_the_session_shares_the_routes_transaction(db, client_for, where):
    """A dependency that writes through ``db.session``, declared on the router, on its
    inclusion or on the route, is in the route's transaction: when the route fails, the
    dependency's write is rolled back with it."""

    calls: list[int] = []
    app = FastAPI()
    audited = [Depends(auditor(db, calls))]
    options: dict[str, Any] = {
        "router": {"dependencies": audited},
        "route": {"create_route": audited},
        "include": {},
    }[where]
    router = CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session, **options)
    app.include_router(router, dependencies=audited if where == "include" else None)
    async with client_for(app) as client:
        await post_twice(client)
    assert len(calls) == 2
    async with db.open_session() as session:
        audits = await session.scalar(select(func.count()).select_from(Team))
    assert audits == 1  # the failed request's audit row went with it


async def test_an_override_of_the_session_dependency_is_used(db, db_url, client_for, tmp_path):
    other = Database(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    await other.create_all(Base.metadata)
    calls = []

    async def override() -> AsyncIterator[AsyncSession]:
        calls.append(1)
        async with other.open_session() as session:
            yield session

    app = FastAPI()
    app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session))
    try:
        async with client_for(app) as client:
            app.dependency_overrides[db.session] = override
            r = await client.post("/heroes", json={"name": "Flash", "secret_name": "Barry"})
            assert r.status_code == 201, r.text
            hero_id = r.json()["id"]
            assert (await client.get(f"/heroes/{hero_id}")).json()["name"] == "Flash"
            assert len(calls) == 2
            app.dependency_overrides.clear()
            # Back on db: the hero is not there.
            assert (await client.get(f"/heroes/{hero_id}")).status_code == 404
            assert len(calls) == 2
        async with other.open_session() as session:
            assert await session.scalar(select(func.count()).select_from(Hero)) == 1
    finally:
        await other.dispose()


async def test_the_route_commits_before_the_response(db, client_for):
    """What a create answered is in the database when the client has the answer, read on
    another connection."""
    app = FastAPI()
    app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session))
    async with client_for(app) as client:
        for i in range(5):
            r = await client.post("/heroes", json={"name": f"H{i}", "secret_name": "s"})
            assert r.status_code == 201, r.text
            async with db.engine.connect() as connection:
                count = await connection.scalar(select(func.count()).select_from(Hero))
            assert count == i + 1


async def test_an_override_by_another_database_is_one_transaction_with_the_dependencies(
    db, client_for, tmp_path
):
    """Overridden by another `Database`'s session (as `crudrouter_sqla.testing.app_client`
    does), a route and a dependency that both take the session still share one transaction."""
    other = Database(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    await other.create_all(Base.metadata)
    calls: list[int] = []
    app = FastAPI()
    audited = [Depends(auditor(db, calls))]
    app.include_router(
        CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session, dependencies=audited)
    )
    app.dependency_overrides[db.session] = other.session
    try:
        async with client_for(app) as client:
            await post_twice(client)
        assert len(calls) == 2
        async with other.open_session() as session:
            assert await session.scalar(select(func.count()).select_from(Team)) == 1
            assert await session.scalar(select(func.count()).select_from(Hero)) == 1
    finally:
        await other.dispose()
