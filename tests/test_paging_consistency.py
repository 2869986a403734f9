"""`new_pagination` answers every paging mistake as the generated list route does.

The generated route is the reference. One app serves both over the same table and order
(``/heroes``, generated; ``/paged``, a hand-written route on `new_pagination`); each test sends
one kind of request to both, each with cursors it made itself, and asks for the same status and
the same answer. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from crudrouter_sqla import CRUDRouter, Page, Paginator, new_pagination
from crudrouter_sqla._query import CursorCodec
from crudrouter_sqla.core import Database
from tests import tenancymodels as tm
from tests.models import Hero, HeroRead, Team, TeamRead
from tests.support.databases import counting, database_with

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)

ROOT = Path(__file__).resolve().parent.parent
CURSOR = object()
"""Stands for the cursor each route made itself (its first page's ``next_cursor``)."""


def both_app(db: Database) -> FastAPI:
    paginate = new_pagination(session=db.session)
    app = FastAPI(lifespan=db.lifespan)

    @app.get("/paged")
    async def paged(paginator: Paginator = Depends(paginate)) -> Page[HeroRead]:
        return await paginator(select(Hero).order_by(Hero.id), HeroRead)

    @app.get("/paged-teams")
    async def paged_teams(paginator: Paginator = Depends(paginate)) -> Page[TeamRead]:
        return await paginator(select(Team).order_by(Team.id), TeamRead)

    app.include_router(CRUDRouter(Hero, HeroRead, session=db.session))
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    return app


async def seed(db: Database, heroes: int = 12, teams: int = 3) -> None:
    async with db.open_session() as session:
        team_rows = [Team(name=f"Team {t}", headquarters="HQ") for t in range(teams)]
        session.add_all(team_rows)
        await session.flush()
        session.add_all(
            Hero(name=f"Hero {i:02d}", secret_name="s", age=20 + i, team_id=team_rows[i % teams].id)
            for i in range(heroes)
        )


async def first_cursor(client: httpx.AsyncClient, path: str, limit: int = 3) -> str:
    r = await client.get(path, params={"limit": limit})
    assert r.status_code == 200, r.text
    cursor = r.json()["next_cursor"]
    assert isinstance(cursor, str), r.text
    return cursor


def shown(r: httpx.Response) -> Any:
    """What a client reads of an answer: the page without its cursor (each route makes its
    own), or the error."""
    body = r.json()
    if r.status_code != 200:
        return r.status_code, body
    names = [item["name"] for item in body["items"]]
    numbers = {k: body[k] for k in ("total", "limit", "offset", "page", "pages")}
    return r.status_code, names, numbers, body["next_cursor"] is None


async def answers(
    client: httpx.AsyncClient, params: dict[str, Any], cursors: tuple[str, str] | None = None
) -> tuple[Any, Any]:
    """The answers of the generated route and of the helper to the same request."""
    found = []
    for path, own in zip(("/heroes", "/paged"), cursors or (None, None), strict=True):
        sent = {k: own if v is CURSOR else v for k, v in params.items()}
        found.append(shown(await client.get(path, params=sent)))
    return found[0], found[1]


async def own_cursors(client: httpx.AsyncClient, limit: int = 3) -> tuple[str, str]:
    return await first_cursor(client, "/heroes", limit), await first_cursor(client, "/paged", limit)


# Cursors ----------------------------------------------------------------------------------


async def test_a_malformed_cursor_is_the_same_404(db, client_for):
    await seed(db)
    async with client_for(both_app(db)) as client:
        generated, helper = await answers(client, {"cursor": "not a cursor"})
        assert generated[0] == 404, generated
        assert helper == generated


async def test_an_altered_cursor_is_the_same_404(db, client_for):
    await seed(db)
    async with client_for(both_app(db)) as client:
        cursors = await own_cursors(client)
        altered = tuple(c[:-4] + ("AAAA" if not c.endswith("AAAA") else "BBBB") for c in cursors)
        generated, helper = await answers(client, {"cursor": CURSOR}, altered)  # type: ignore[arg-type]
        assert generated == (
            404,
            {"detail": "The cursor names no page of this list: cursor is malformed or was altered"},
        )
        assert helper == generated


async def test_a_cursor_of_another_list_is_the_same_404(db, client_for):
    await seed(db)
    async with client_for(both_app(db)) as client:
        r = await client.get("/heroes", params={"cursor": await first_cursor(client, "/teams", 1)})
        generated = shown(r)
        r = await client.get(
            "/paged", params={"cursor": await first_cursor(client, "/paged-teams", 1)}
        )
        assert generated == (
            404,
            {
                "detail": "The cursor names no page of this list: "
                "cursor was made for another resource"
            },
        )
        assert shown(r) == generated


async def test_a_forged_cursor_beyond_any_row_is_the_same_404(db, client_for):
    """Anyone can write a cursor that passes the fixed-key checksum; one holding a value no
    column (no position) can hold names no page."""
    await seed(db)
    async with client_for(both_app(db)) as client:
        forged = (
            CursorCodec("heroes").encode("", [2**70], [int]),
            CursorCodec("paginate").encode("", ["/paged", -1], [str, int]),
        )
        generated, helper = await answers(client, {"cursor": CURSOR}, forged)
        assert generated == (
            404,
            {
                "detail": "The cursor names no page of this list: cursor holds a value beyond "
                "its sort key's column"
            },
        )
        assert helper == generated


async def test_a_cursor_with_an_offset_skips_rows_after_its_position(db, client_for):
    await seed(db)
    async with client_for(both_app(db)) as client:
        cursors = await own_cursors(client)
        generated, helper = await answers(
            client, {"cursor": CURSOR, "offset": 2, "limit": 3}, cursors
        )
        assert generated == (
            200,
            ["Hero 05", "Hero 06", "Hero 07"],
            {"total": 12, "limit": 3, "offset": None, "page": None, "pages": None},
            False,
        )
        assert helper == generated


async def test_a_cursor_with_a_page_adds_the_page(db, client_for):
    await seed(db)
    async with client_for(both_app(db)) as client:
        cursors = await own_cursors(client)
        generated, helper = await answers(
            client, {"cursor": CURSOR, "page": 2, "limit": 2}, cursors
        )
        assert generated == (
            200,
            ["Hero 05", "Hero 06"],
            {"total": 12, "limit": 2, "offset": None, "page": 2, "pages": 6},
            False,
        )
        assert helper == generated


def cursor_from_another_process(db_url: str) -> str:
    """The first page's ``next_cursor`` of ``/paged``, made by a fresh Python process."""
    script = (
        "import asyncio, sys\n"
        "from tests.test_paging_consistency import cursor_of_a_new_app\n"
        "print(asyncio.run(cursor_of_a_new_app(sys.argv[1])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, db_url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


async def cursor_of_a_new_app(db_url: str) -> str:
    from crudrouter_sqla.testing import app_client

    database = Database(db_url)
    try:
        async with app_client(both_app(database)) as client:
            return await first_cursor(client, "/paged")
    finally:
        await database.engine.dispose()


async def test_a_cursor_works_after_a_restart_and_on_another_worker(db, db_url, client_for):
    await seed(db)
    cursor = await asyncio.to_thread(cursor_from_another_process, db_url)
    async with client_for(both_app(db)) as client:
        r = await client.get("/paged", params={"cursor": cursor, "limit": 3})
        assert r.status_code == 200, r.text
        assert [h["name"] for h in r.json()["items"]] == ["Hero 03", "Hero 04", "Hero 05"]


# Offsets, pages, limits -------------------------------------------------------------------


async def test_a_page_with_an_offset_adds_the_offset(db, client_for):
    await seed(db)
    async with client_for(both_app(db)) as client:
        generated, helper = await answers(client, {"page": 2, "offset": 1, "limit": 5})
        assert generated == (
            200,
            [f"Hero {i:02d}" for i in range(6, 11)],
            {"total": 12, "limit": 5, "offset": 6, "page": 2, "pages": 3},
            False,
        )
        assert helper == generated


async def test_an_offset_past_max_offset_is_the_same_422(db, client_for):
    async with client_for(both_app(db)) as client:
        generated, helper = await answers(client, {"offset": 100_001})
        assert generated[0] == 422, generated
        assert generated[1]["detail"][0]["msg"] == (
            "offset may be at most 100000; to go deeper, follow next_cursor"
        )
        assert helper == generated


@pytest.mark.parametrize("limit", [2, 20], ids=["limit-2", "limit-20"])
async def test_a_page_past_the_documented_maximum_is_the_same_422(db, client_for, limit):
    async with client_for(both_app(db)) as client:
        generated, helper = await answers(client, {"page": 1002, "limit": limit})
        assert generated[0] == 422, generated
        assert generated[1]["detail"][0]["loc"] == ["query", "page"]
        assert helper == generated
        generated, helper = await answers(client, {"page": 1001, "limit": limit})
        assert generated[0] == 200, generated
        assert helper == generated


@pytest.mark.parametrize("name", ["limit", "offset", "page", "cursor", "count"])
async def test_a_paging_parameter_given_twice_is_the_same_422(db, client_for, name):
    values = {
        "limit": ["5", "0"],
        "offset": ["1", "2"],
        "page": ["1", "2"],
        "cursor": ["a", "b"],
        "count": ["none", "exact"],
    }
    async with client_for(both_app(db)) as client:
        generated, helper = await answers(client, {name: values[name]})
        assert generated == (
            422,
            {
                "detail": [
                    {
                        "type": "value_error",
                        "loc": ["query", name],
                        "msg": "given more than once; give it once",
                        "input": None,
                    }
                ]
            },
        )
        assert helper == generated


# Embedded relationships -------------------------------------------------------------------


class HeroWithTeam(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    team: TeamRead | None


class TeamWithHeroes(TeamRead):
    heroes: list[HeroRead]


def embedding_app(db: Database) -> FastAPI:
    paginate = new_pagination(session=db.session)
    app = FastAPI(lifespan=db.lifespan)

    @app.get("/paged")
    async def paged(paginator: Paginator = Depends(paginate)) -> Page[HeroWithTeam]:
        return await paginator(select(Hero).order_by(Hero.id), HeroWithTeam)

    @app.get("/paged-teams")
    async def paged_teams(paginator: Paginator = Depends(paginate)) -> Page[TeamWithHeroes]:
        return await paginator(select(Team).order_by(Team.id), TeamWithHeroes)

    app.include_router(CRUDRouter(Hero, HeroWithTeam, session=db.session))
    app.include_router(CRUDRouter(Team, TeamWithHeroes, session=db.session))
    return app


@pytest.mark.parametrize(
    ("generated", "helper"),
    [("/heroes", "/paged"), ("/teams", "/paged-teams")],
    ids=["to-one", "to-many"],
)
async def test_embedded_relationships_load_without_a_query_per_row(
    db, client_for, generated, helper
):
    await seed(db, heroes=40, teams=20)
    async with client_for(embedding_app(db)) as client:
        used = {}
        for path in (generated, helper):
            for limit in (2, 20):
                with counting(db) as statements:
                    r = await client.get(path, params={"limit": limit})
                assert r.status_code == 200, r.text
                assert len(r.json()["items"]) == limit
                used[path, limit] = len(statements)
            r = await client.get(path, params={"limit": 20})
            assert r.json()["items"][3]["name"] in ("Hero 03", "Team 3"), r.text
        # The count, the page, one SELECT ... IN per embedded relationship: whatever the size.
        assert used[helper, 20] == used[helper, 2] == 3, used
        assert used[helper, 20] <= used[generated, 20] + 1, used
        generated_page = (await client.get(generated, params={"limit": 20})).json()
        helper_page = (await client.get(helper, params={"limit": 20})).json()
        assert helper_page["items"] == generated_page["items"]


async def test_a_cursor_without_a_secret_goes_no_deeper_than_an_offset(db, client_for):
    """Anyone can write a cursor under the fixed key: one past ``max_offset`` is a 404, and the
    page at the bound offers none, unless the helper has a ``cursor_secret``."""
    shallow = new_pagination(session=db.session, max_offset=6)
    deep = new_pagination(session=db.session, max_offset=6, cursor_secret="s" * 32)
    app = FastAPI(lifespan=db.lifespan)

    @app.get("/shallow")
    async def shallow_route(paginator: Paginator = Depends(shallow)) -> Page[HeroRead]:
        return await paginator(select(Hero).order_by(Hero.id), HeroRead)

    @app.get("/deep")
    async def deep_route(paginator: Paginator = Depends(deep)) -> Page[HeroRead]:
        return await paginator(select(Hero).order_by(Hero.id), HeroRead)

    await seed(db)
    forged = CursorCodec("paginate").encode("", ["/shallow", 10**15], [str, int])
    async with client_for(app) as client:
        r = await client.get("/shallow", params={"cursor": forged})
        assert r.status_code == 404, r.text
        for path, pages in (("/shallow", 3), ("/deep", 4)):
            params: dict[str, Any] = {"limit": 3}
            seen = 0
            while True:
                r = await client.get(path, params=params)
                assert r.status_code == 200, r.text
                seen += 1
                if r.json()["next_cursor"] is None:
                    break
                params = {"limit": 3, "cursor": r.json()["next_cursor"]}
            assert seen == pages, path


async def test_soft_deleted_rows_are_not_embedded_in_a_page(db_url, client_for):
    async with database_with(db_url, tm.Base.metadata) as tdb:
        paginate = new_pagination(session=tdb.session)
        app = FastAPI(lifespan=tdb.lifespan)
        app.include_router(
            CRUDRouter(tm.Project, tm.ProjectRead, session=tdb.session, soft_delete="deleted_at")
        )

        @app.get("/paged")
        async def paged(paginator: Paginator = Depends(paginate)) -> Page[tm.TaskRead]:
            return await paginator(select(tm.Task).order_by(tm.Task.id), tm.TaskRead)

        async with tdb.open_session() as session:
            session.add(tm.Organization(id=1, name="Acme"))
            gone, kept = tm.Project(org_id=1, name="gone"), tm.Project(org_id=1, name="kept")
            session.add_all([gone, kept])
            await session.flush()
            session.add_all(tm.Task(org_id=1, project_id=p.id, title=p.name) for p in (gone, kept))
        async with client_for(app) as client:
            r = await client.delete(f"/projects/{gone.id}")
            assert r.status_code == 204, r.text
            items = (await client.get("/paged")).json()["items"]
            assert [item["project"] and item["project"]["name"] for item in items] == [None, "kept"]
