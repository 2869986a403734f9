"""`new_pagination` and `Paginate`: pages of any select in hand-written routes, and the pure
page-number arithmetic the list route shares."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import aliased, joinedload, raiseload

from crudrouter_sqla import (
    ConfigurationError,
    CRUDRouter,
    Page,
    Paginate,
    Paginator,
    new_pagination,
)
from crudrouter_sqla._query._page_numbers import page_count, page_offset
from tests.models import Hero, HeroRead, Team, TeamRead
from tests.support.databases import counting

NO_PAGE = "The cursor names no page of this list: "


class TeamSize(BaseModel):
    name: str
    heroes: int


def paginate_app(db, **options) -> FastAPI:
    paginate_dep = new_pagination(session=db.session, **options)
    app = FastAPI(lifespan=db.lifespan)

    @app.get("/heroes")
    async def list_heroes(
        paginate: Paginator = Depends(paginate_dep), min_age: int | None = None
    ) -> Page[HeroRead]:
        statement = select(Hero).order_by(Hero.name, Hero.id)
        if min_age is not None:
            statement = statement.where(Hero.age >= min_age)
        return await paginate(statement, HeroRead)

    @app.get("/team-sizes")
    async def team_sizes(paginate: Paginator = Depends(paginate_dep)) -> Page[TeamSize]:
        statement = (
            select(Team.name, func.count(Hero.id).label("heroes"))
            .join(Hero, Hero.team_id == Team.id)
            .group_by(Team.id, Team.name)
            .order_by(func.count(Hero.id).desc(), Team.name)
        )
        return await paginate(statement, TeamSize)

    @app.get("/names")
    async def names(paginate: Paginator = Depends(paginate_dep)) -> Page[dict[str, str]]:
        return await paginate(select(Hero.name).order_by(Hero.name))

    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    return app


async def seed(db, teams=2, heroes=12) -> None:
    async with db.open_session() as session:
        team_rows = [Team(name=f"Team {t}", headquarters="HQ") for t in range(teams)]
        session.add_all(team_rows)
        await session.flush()
        session.add_all(
            Hero(
                name=f"Hero {i:02d}",
                secret_name=f"Secret {i:02d}",
                age=20 + i,
                team_id=team_rows[0 if i < 8 else 1].id,
            )
            for i in range(heroes)
        )


async def test_a_page_of_a_select_has_the_list_route_shape(db, client_for):
    await seed(db)
    async with client_for(paginate_app(db)) as client:
        r = await client.get("/heroes", params={"limit": 5, "offset": 10})
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {
            "items",
            "total",
            "limit",
            "offset",
            "next_cursor",
            "page",
            "pages",
        }
        assert [h["name"] for h in page["items"]] == ["Hero 10", "Hero 11"]
        assert (page["total"], page["limit"], page["offset"]) == (12, 5, 10)
        assert (page["next_cursor"], page["page"], page["pages"]) == (None, None, None)
        assert page["items"][0] == {
            "id": page["items"][0]["id"],
            "name": "Hero 10",
            "secret_name": "Secret 10",
            "age": 30,
            "team_id": page["items"][0]["team_id"],
        }
        # The generated list route answers the same keys.
        r = await client.get("/teams")
        assert set(r.json()) == set(page), r.text


async def test_defaults_where_and_count_none(db, client_for):
    await seed(db, heroes=25)
    async with client_for(paginate_app(db)) as client:
        r = await client.get("/heroes")
        page = r.json()
        assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (25, 20, 0, 20)
        assert page["next_cursor"] is not None
        r = await client.get("/heroes", params={"min_age": 40, "count": "none"})
        page = r.json()
        assert page["total"] is None
        assert [h["age"] for h in page["items"]] == [40, 41, 42, 43, 44]
        r = await client.get("/heroes", params={"count": "estimated", "limit": 1})
        assert r.json()["total"] == 25, r.text


async def test_joins_and_aggregates(db, client_for):
    await seed(db)
    async with client_for(paginate_app(db)) as client:
        r = await client.get("/team-sizes")
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["items"] == [{"name": "Team 0", "heroes": 8}, {"name": "Team 1", "heroes": 4}]
        assert page["total"] == 2
        r = await client.get("/team-sizes", params={"limit": 1, "page": 2})
        assert r.json()["items"] == [{"name": "Team 1", "heroes": 4}], r.text
        r = await client.get("/names", params={"limit": 3})
        assert r.status_code == 200, r.text
        assert r.json()["items"] == [{"name": "Hero 00"}, {"name": "Hero 01"}, {"name": "Hero 02"}]


async def test_page_numbers(db, client_for):
    await seed(db)
    async with client_for(paginate_app(db)) as client:
        r = await client.get("/heroes", params={"page": 2, "limit": 5})
        assert r.status_code == 200, r.text
        page = r.json()
        assert [h["name"] for h in page["items"]] == [f"Hero {i:02d}" for i in range(5, 10)]
        assert (page["page"], page["pages"], page["offset"], page["total"]) == (2, 3, 5, 12)
        r = await client.get("/heroes", params={"page": 3, "limit": 5})
        assert [h["name"] for h in r.json()["items"]] == ["Hero 10", "Hero 11"]
        r = await client.get("/heroes", params={"page": 4, "limit": 5})
        assert (r.json()["items"], r.json()["page"], r.json()["pages"]) == ([], 4, 3)
        r = await client.get("/heroes", params={"page": 1, "limit": 5, "count": "none"})
        assert (r.json()["page"], r.json()["pages"], r.json()["total"]) == (1, None, None)


async def test_cursors_follow_the_pages(db, client_for):
    await seed(db)
    async with client_for(paginate_app(db)) as client:
        seen: list[str] = []
        params: dict[str, object] = {"limit": 5}
        while True:
            r = await client.get("/heroes", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            seen += [h["name"] for h in page["items"]]
            if page["next_cursor"] is None:
                break
            assert page["offset"] is None or page["offset"] == 0
            params = {"limit": 5, "cursor": page["next_cursor"]}
        assert seen == [f"Hero {i:02d}" for i in range(12)]
        r = await client.get("/heroes", params={"limit": 5})
        cursor = r.json()["next_cursor"]
        # A cursor the route did not make is the generated list route's 404.
        r = await client.get("/team-sizes", params={"cursor": cursor})
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": NO_PAGE + "cursor was made for another resource"}
        altered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
        r = await client.get("/heroes", params={"cursor": altered})
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": NO_PAGE + "cursor is malformed or was altered"}
        r = await client.get("/heroes", params={"cursor": "x" * 2049})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_cursor_secret_signs_cursors_only_its_app_accepts(db, client_for):
    await seed(db)
    async with client_for(paginate_app(db, cursor_secret="s3cret")) as client:
        r = await client.get("/heroes", params={"limit": 5})
        signed = r.json()["next_cursor"]
        r = await client.get("/heroes", params={"limit": 5, "cursor": signed})
        assert [h["name"] for h in r.json()["items"]][0] == "Hero 05", r.text
    async with client_for(paginate_app(db)) as client:
        r = await client.get("/heroes", params={"limit": 5, "cursor": signed})
        assert r.status_code == 404, r.text
        unsigned = (await client.get("/heroes", params={"limit": 5})).json()["next_cursor"]
    async with client_for(paginate_app(db, cursor_secret=b"s3cret")) as client:
        r = await client.get("/heroes", params={"limit": 5, "cursor": signed})
        assert r.status_code == 200, r.text
        r = await client.get("/heroes", params={"limit": 5, "cursor": unsigned})
        assert r.status_code == 404, r.text


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": 2}, "limit"),
        ({"limit": 51}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 100_001}, "offset"),
        ({"offset": 2**80}, "offset"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"page": 2**80}, "page"),
        # max_offset // max_page_size + 1, whatever the limit, as the list route bounds it.
        ({"page": 2002, "limit": 3}, "page"),
        ({"cursor": "c" * 2049}, "cursor"),
        ({"count": "roughly"}, "count"),
        ({"limit": ["5", "6"]}, "limit"),
    ],
    ids=lambda value: (
        "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
    ),
)
async def test_bad_values_are_422_naming_the_parameter(db, client_for, params, name):
    async with client_for(paginate_app(db, min_page_size=3, max_page_size=50)) as client:
        r = await client.get("/heroes", params=params)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["query", name], r.text


async def test_page_sizes_bound_limit(db, client_for):
    await seed(db)
    async with client_for(paginate_app(db, min_page_size=3, max_page_size=4)) as client:
        r = await client.get("/heroes")
        assert r.json()["limit"] == 4, r.text  # the default, kept within the bounds
        r = await client.get("/heroes", params={"limit": 3})
        assert len(r.json()["items"]) == 3, r.text
    async with client_for(paginate_app(db, default_page_size=7)) as client:
        r = await client.get("/heroes")
        assert r.json()["limit"] == 7, r.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_page_size": 0}, "min_page_size must be an integer of at least 1, got 0"),
        ({"max_page_size": 0}, "max_page_size must be an integer of at least 1, got 0"),
        (
            {"min_page_size": 10, "max_page_size": 5},
            "min_page_size must be between 1 and max_page_size (5), got 10",
        ),
        (
            {"min_page_size": 2, "max_page_size": 5, "default_page_size": 6},
            "default_page_size must be between min_page_size (2) and max_page_size (5), got 6",
        ),
        # The words CRUDRouter uses for the same mistake.
        ({"count": "roughly"}, "count must be one of exact, none, estimated, got 'roughly'"),
        ({"max_offset": -1}, "max_offset must be an integer of at least 0, got -1"),
        (
            {"cursor_secret": ""},
            "cursor_secret must be a non-empty str or bytes (or None for cursors under the "
            "fixed key), got a str of 0 characters",
        ),
    ],
    ids=[
        "min-zero",
        "max-zero",
        "min-over-max",
        "default-out-of-range",
        "count",
        "max-offset",
        "cursor-secret",
    ],
)
def test_configuration_mistakes_raise_at_once(options, message):
    with pytest.raises(ConfigurationError) as info:
        new_pagination(**options)
    assert str(info.value) == message


async def test_openapi_documents_the_parameters_and_page(db, client_for):
    async with client_for(paginate_app(db, min_page_size=3, max_page_size=50)) as client:
        r = await client.get("/openapi.json")
        operation = r.json()["paths"]["/heroes"]["get"]
        params = {p["name"]: p for p in operation["parameters"]}
        assert {"limit", "offset", "page", "cursor", "count", "min_age"} <= params.keys()
        assert params["limit"]["schema"]["minimum"] == 3
        assert params["limit"]["schema"]["maximum"] == 50
        assert params["page"]["schema"]["anyOf"][0]["minimum"] == 1
        assert params["page"]["schema"]["anyOf"][0]["maximum"] == 100_000 // 50 + 1
        assert params["offset"]["schema"]["maximum"] == 100_000
        assert "adds to them" in params["page"]["description"]
        assert "404" in params["cursor"]["description"]
        schema = r.json()["components"]["schemas"]["HeroReadPage"]
        assert {"page", "pages", "next_cursor"} <= schema["properties"].keys()


async def test_paginate_default_uses_the_core_session(tmp_path, monkeypatch, client_for):
    from crudrouter_sqla.core import lifespan

    monkeypatch.setenv("SQLALCHEMY_URL", f"sqlite+aiosqlite:///{tmp_path / 'default.db'}")
    app = FastAPI(lifespan=lifespan)

    @app.get("/numbers")
    async def numbers(paginate: Paginate) -> Page[int]:
        values = select(func.abs(-7).label("n")).union_all(select(func.abs(-8).label("n")))
        statement = select(values.subquery().c.n).order_by("n")
        page = await paginate(statement)
        return Page[int](**{**page.model_dump(), "items": [row["n"] for row in page.items]})

    async with client_for(app) as client:
        r = await client.get("/numbers", params={"limit": 1, "page": 2})
        assert r.status_code == 200, r.text
        assert r.json() == {
            "items": [8],
            "total": 2,
            "limit": 1,
            "offset": 1,
            "next_cursor": None,
            "page": 2,
            "pages": 2,
        }


def test_page_arithmetic():
    assert page_offset(1, 20) == 0
    assert page_offset(3, 20) == 40
    assert page_count(None, 20) is None
    assert page_count(0, 20) == 0
    assert page_count(20, 20) == 1
    assert page_count(21, 20) == 2


async def test_page_numbers_in_the_generated_list_route(db, client_for):
    app = paginate_app(db)
    app.include_router(CRUDRouter(Hero, HeroRead, prefix="/all-heroes", session=db.session))
    await seed(db, heroes=12)
    async with client_for(app) as client:
        r = await client.get("/all-heroes", params={"page": 3, "limit": 5})
        assert r.status_code == 200, r.text
        page = r.json()
        assert (page["page"], page["pages"], page["offset"], page["total"]) == (3, 3, 10, 12)
        assert len(page["items"]) == 2
        r = await client.get("/all-heroes", params={"page": 2, "limit": 5, "count": "none"})
        assert (r.json()["page"], r.json()["pages"], r.json()["offset"]) == (2, None, 5)
        r = await client.get("/all-heroes", params={"limit": 5})
        assert (r.json()["page"], r.json()["pages"]) == (None, None)
        for params in ({"page": 0}, {"page": "x"}, {"page": 10**6}):
            r = await client.get("/all-heroes", params=params)
            assert r.status_code == 422, r.text
            assert r.json()["detail"][0]["loc"] == ["query", "page"], r.text
        # Offset, page and cursor add up.
        r = await client.get("/all-heroes", params={"page": 2, "offset": 1, "limit": 5})
        assert r.json()["offset"] == 6, r.text
        first = await client.get("/all-heroes", params={"limit": 5})
        cursor = first.json()["next_cursor"]
        r = await client.get("/all-heroes", params={"page": 2, "cursor": cursor, "limit": 2})
        assert r.status_code == 200, r.text
        names = [h["name"] for h in r.json()["items"]]
        everyone = await client.get("/all-heroes", params={"limit": 100})
        assert names == [h["name"] for h in everyone.json()["items"][7:9]]
        doc = app.openapi()["paths"]["/all-heroes"]["get"]["parameters"]
        assert "page" in {p["name"] for p in doc}


# Embedded relationships -------------------------------------------------------------------


class HeroWithTeam(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    team: TeamRead | None


async def test_embeds_respect_the_statements_own_loader_options(db, client_for):
    paginate = new_pagination(session=db.session)
    app = FastAPI(lifespan=db.lifespan)

    @app.get("/joined")
    async def joined(paginator: Paginator = Depends(paginate)) -> Page[HeroWithTeam]:
        statement = select(Hero).options(joinedload(Hero.team)).order_by(Hero.id)
        return await paginator(statement, HeroWithTeam)

    @app.get("/raising")
    async def raising(paginator: Paginator = Depends(paginate)) -> Page[HeroWithTeam]:
        # A wildcard names no relationship: the embedded team is still loaded.
        statement = select(Hero).options(raiseload("*")).order_by(Hero.id)
        return await paginator(statement, HeroWithTeam)

    @app.get("/aliased")
    async def aliased_heroes(paginator: Paginator = Depends(paginate)) -> Page[HeroWithTeam]:
        hero = aliased(Hero)
        return await paginator(select(hero).order_by(hero.id), HeroWithTeam)

    @app.get("/grouped")
    async def grouped(paginator: Paginator = Depends(paginate)) -> Page[HeroWithTeam]:
        statement = (
            select(Hero).join(Team, Team.id == Hero.team_id).group_by(Hero.id).order_by(Hero.id)
        )
        return await paginator(statement, HeroWithTeam)

    await seed(db, teams=2, heroes=12)
    async with client_for(app) as client:
        expected = None
        for path, statements_used in (
            ("/joined", 2),
            ("/raising", 3),
            ("/aliased", 3),
            ("/grouped", 3),
        ):
            with counting(db) as statements:
                r = await client.get(path, params={"limit": 10})
            assert r.status_code == 200, r.text
            assert len(statements) == statements_used, (path, statements)
            expected = expected or r.json()["items"]
            assert r.json()["items"] == expected, path
            assert expected[9]["team"]["name"] == "Team 1"
