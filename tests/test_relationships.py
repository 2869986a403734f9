"""Relationships over HTTP, on SQLite and PostgreSQL: embedded reads in a bounded number of
statements, filters and sorts across relations, nested routes and writes of references."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from crudrouter_sqla import ConfigurationError, CRUDRouter
from crudrouter_sqla.core import Database
from tests.relmodels import (
    Base,
    Country,
    CountryRead,
    Hero,
    HeroRead,
    HeroWithPowers,
    HeroWithPowersCreate,
    Power,
    Tag,
    TagRead,
    Team,
    TeamRead,
    TeamWithHeroIds,
    hero_tags,
)
from tests.support.databases import counting, database_with

HERO_FILTERS: dict[str, Any] = {
    "team.name": ["eq", "ilike"],
    "team.country.name": ["eq"],
    "tags.slug": ["in", "eq"],
    "powers.level": ["gte"],
    "age": ["gte"],
}


@pytest.fixture
async def rdb(db_url: str) -> AsyncIterator[Database]:
    async with database_with(db_url, Base.metadata) as database:
        yield database


def related_app(db: Database, **hero_options: Any) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Country, CountryRead, session=db.session))
    app.include_router(CRUDRouter(Team, TeamRead, TeamWithHeroIds, session=db.session))
    app.include_router(CRUDRouter(Tag, TagRead, session=db.session))
    options: dict[str, Any] = {
        "filter_fields": HERO_FILTERS,
        "sort_fields": ["name", "age", "team.name", "team.country.name"],
        "search_fields": ["name", "team.name"],
        **hero_options,
    }
    app.include_router(
        CRUDRouter(Hero, HeroWithPowers, HeroWithPowersCreate, session=db.session, **options)
    )
    app.include_router(
        CRUDRouter(Hero, HeroRead, prefix="/members", parent=Hero.team, session=db.session)
    )
    return app


async def seed(client: Any, heroes: int = 20, teams: int = 5) -> None:
    r = await client.post("/countries", json={"name": "Atlantis"})
    assert r.status_code == 201, r.text
    for t in range(teams):
        body = {"name": f"Team {t}", "country_id": 1 if t % 2 == 0 else None}
        r = await client.post("/teams", json=body)
        assert r.status_code == 201, r.text
    for slug in ("flying", "strong", "rich"):
        r = await client.post("/tags", json={"slug": slug, "label": slug.title()})
        assert r.status_code == 201, r.text
    for h in range(heroes):
        body = {
            "name": f"Hero {h:02d}",
            "age": 20 + h,
            "team_id": 1 + h % teams,
            "tags": ["flying", "strong"] if h % 3 == 0 else ["rich"],
            "powers": [{"name": f"power {h}", "level": h % 4}],
        }
        r = await client.post("/heroes", json=body)
        assert r.status_code == 201, r.text


# Embedded reads ---------------------------------------------------------------------------


async def test_embedded_reads_on_every_route(rdb, client_for):
    async with client_for(related_app(rdb)) as client:
        await seed(client, heroes=2, teams=1)
        r = await client.get("/heroes/1")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["team"] == {
            "id": 1,
            "name": "Team 0",
            "country_id": 1,
            "country": {"id": 1, "name": "Atlantis"},
        }
        assert [t["slug"] for t in body["tags"]] == ["flying", "strong"]
        assert body["powers"] == [{"id": 1, "name": "power 0", "level": 0}]
        r = await client.get("/heroes")
        assert r.json()["items"][0] == body
        r = await client.patch("/heroes/1", json={"age": 99})
        assert r.status_code == 200, r.text
        assert r.json() == {**body, "age": 99}
        r = await client.put("/heroes/2", json={"name": "Hero 01", "team_id": None})
        assert r.status_code == 200, r.text
        assert r.json()["team"] is None
        assert r.json()["tags"] == []


@pytest.mark.parametrize("limit", [1, 20, 100])
async def test_list_statements_are_bounded_whatever_the_page_size(rdb, client_for, limit):
    async with client_for(related_app(rdb)) as client:
        await seed(client, heroes=25, teams=5)
        with counting(rdb) as statements:
            r = await client.get(f"/heroes?limit={limit}")
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) == min(limit, 25)
        # page + count + one per embedded collection (tags, powers)
        assert len(statements) <= 4, statements
        with counting(rdb) as statements:
            r = await client.get(f"/heroes?limit={limit}&count=none")
        assert len(statements) <= 3, statements
        with counting(rdb) as statements:
            r = await client.get(f"/members?limit={limit}".replace("/members", "/teams/1/members"))
        assert r.status_code == 200, r.text
        # page + count + tags (the team and its country are joined)
        assert len(statements) <= 3, statements


async def test_get_statements_are_bounded(rdb, client_for):
    async with client_for(related_app(rdb)) as client:
        await seed(client, heroes=3, teams=2)
        with counting(rdb) as statements:
            r = await client.get("/heroes/1")
        assert r.status_code == 200, r.text
        assert len(statements) <= 3, statements
        with counting(rdb) as statements:
            r = await client.get("/teams/1/members/1")
        assert r.status_code == 200, r.text
        assert len(statements) <= 2, statements


async def test_fields_may_name_an_embedded_field_and_skip_the_others(rdb, client_for):
    async with client_for(related_app(rdb)) as client:
        await seed(client, heroes=4, teams=2)
        with counting(rdb) as statements:
            r = await client.get("/heroes?fields=id,name,team&count=none")
        assert r.status_code == 200, r.text
        item = r.json()["items"][0]
        assert set(item) == {"id", "name", "team"}
        assert item["team"]["name"] == "Team 0"
        assert len(statements) == 1, statements
        with counting(rdb) as statements:
            r = await client.get("/heroes?fields=id,tags&count=none")
        assert set(r.json()["items"][0]) == {"id", "tags"}
        assert len(statements) == 2, statements
        with counting(rdb) as statements:
            r = await client.get("/heroes?fields=id,name&count=none")
        assert len(statements) == 1, statements
        assert "JOIN" not in statements[0].upper()


async def test_no_relationship_mapping_gives_a_500(rdb, client_for):
    """Team.heroes is lazy="joined" (a collection), Team.country lazy="raise", Hero.powers
    lazy="raise" with a delete cascade, Hero.tags a secondary selectin collection."""

    class TeamEmbedding(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        id: int
        name: str
        country: CountryRead | None
        heroes: list[HeroRead]

    async with client_for(related_app(rdb)) as client:
        await seed(client, heroes=6, teams=2)
    app = FastAPI(lifespan=rdb.lifespan)
    app.include_router(CRUDRouter(Team, TeamEmbedding, TeamWithHeroIds, session=rdb.session))
    app.include_router(CRUDRouter(Hero, HeroWithPowers, HeroWithPowersCreate, session=rdb.session))
    async with client_for(app) as client:
        r = await client.get("/teams")
        assert r.status_code == 200, r.text
        teams = r.json()["items"]
        assert [len(t["heroes"]) for t in teams] == [3, 3]
        assert teams[0]["heroes"][0]["team"]["name"] == "Team 0"
        r = await client.get("/teams/1")
        assert r.status_code == 200, r.text
        r = await client.post("/teams", json={"name": "New", "heroes": [1]})
        assert r.status_code == 201, r.text
        assert [h["id"] for h in r.json()["heroes"]] == [1]
        r = await client.patch("/teams/3", json={"name": "Newer"})
        assert r.status_code == 200, r.text
        r = await client.delete("/heroes/1")
        assert r.status_code == 204, r.text
        r = await client.delete("/teams/3")
        assert r.status_code == 204, r.text


# Filters and sorts across relations ------------------------------------------------------


async def test_filters_across_to_one_and_to_many_relations(rdb, client_for):
    async with client_for(related_app(rdb)) as client:
        await seed(client, heroes=20, teams=5)
        r = await client.get("/heroes?team.name__ilike=team 1&count=exact")
        assert r.status_code == 200, r.text
        assert {h["team"]["name"] for h in r.json()["items"]} == {"Team 1"}
        assert r.json()["total"] == 4
        r = await client.get("/heroes?team.country.name=Atlantis&limit=5")
        assert r.json()["total"] == 12
        assert all(h["team"]["country"]["name"] == "Atlantis" for h in r.json()["items"])
        # Every hero with either tag appears once, and the count agrees.
        r = await client.get("/heroes?tags.slug__in=flying,strong,rich&limit=100")
        body = r.json()
        assert body["total"] == 20
        assert len({h["id"] for h in body["items"]}) == 20
        r = await client.get("/heroes?tags.slug=flying&limit=3")
        assert r.json()["total"] == 7
        ids = [h["id"] for h in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        while cursor:
            r = await client.get(f"/heroes?tags.slug=flying&limit=3&cursor={cursor}")
            ids += [h["id"] for h in r.json()["items"]]
            cursor = r.json()["next_cursor"]
        assert len(ids) == len(set(ids)) == 7
        r = await client.get("/heroes?powers.level__gte=2&team.name=Team 3")
        assert [h["name"] for h in r.json()["items"]] == ["Hero 03", "Hero 18"]
        r = await client.get("/heroes?q=team 4")
        assert r.json()["total"] == 4


async def test_sort_by_a_to_one_path_with_cursors(rdb, client_for):
    async with client_for(related_app(rdb)) as client:
        await seed(client, heroes=12, teams=3)
        r = await client.post("/heroes", json={"name": "Loner", "age": 1})
        assert r.status_code == 201, r.text
        r = await client.get("/heroes?sort=-team.name,-age&limit=100")
        names = [(h["team"]["name"] if h["team"] else None, h["age"]) for h in r.json()["items"]]
        # Descending puts nulls first.
        assert names[0] == (None, 1)
        assert names[1:] == sorted(names[1:], key=lambda x: (x[0], x[1]), reverse=True)
        seen: list[int] = []
        url = "/heroes?sort=team.name,age&limit=5"
        while True:
            r = await client.get(url)
            assert r.status_code == 200, r.text
            seen += [h["id"] for h in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
            url = f"/heroes?sort=team.name,age&limit=5&cursor={cursor}"
        assert len(seen) == len(set(seen)) == 13
        r = await client.get("/heroes?sort=team.country.name,name&limit=100")
        assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"filter_fields": {"team.nmae": ["eq"]}}, "'nmae' is not a column of Team"),
        ({"filter_fields": {"squad.name": ["eq"]}}, "'squad' is not a relationship of Hero"),
        ({"filter_fields": {"team.name": ["gte", "isnull", "regex"]}}, "unknown filter"),
        ({"filter_fields": {"team.id": ["ilike"]}}, "does not fit team.id"),
        ({"sort_fields": ["tags.slug"]}, "to-many"),
        ({"sort_fields": ["team.missing"]}, "team.missing"),
        ({"search_fields": ["team.id"]}, "not a text column"),
        ({"parent": Hero.tags}, "many-to-one"),
        ({"parent": Team.heroes}, "not of Hero"),
        ({"parent": "team"}, "relationship attribute"),
    ],
    ids=[
        "unknown-column",
        "unknown-relationship",
        "unknown-operator",
        "operator-does-not-fit",
        "sort-to-many",
        "sort-unknown",
        "search-not-text",
        "parent-to-many",
        "parent-other-model",
        "parent-not-attribute",
    ],
)
def test_bad_paths_raise_when_the_router_is_built(options, message):
    with pytest.raises(ConfigurationError, match=message):
        CRUDRouter(Hero, HeroRead, **options)


class HeroWithTeamIds(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    team: int


class TeamNested(BaseModel):
    name: str


class HeroTeamWrite(BaseModel):
    name: str
    team: TeamNested


class HeroTagsAsModels(BaseModel):
    name: str
    tags: list[TagRead]


class HeroTagsWrongType(BaseModel):
    name: str
    tags: list[int]


@pytest.mark.parametrize(
    ("schemas", "message"),
    [
        ((HeroWithTeamIds,), "type it as a Pydantic model"),
        ((HeroRead, HeroTeamWrite), "to-one relationship"),
        ((HeroRead, HeroTagsAsModels), "only a one-to-many relationship takes a list"),
        ((HeroRead, HeroTagsWrongType), r"list\[str\]"),
    ],
    ids=["read-relationship-not-model", "write-to-one", "write-m2m-bodies", "write-wrong-key"],
)
def test_nested_fields_that_cannot_work_raise(schemas, message):
    with pytest.raises(ConfigurationError, match=message):
        CRUDRouter(Hero, *schemas)


# Nested routes ------------------------------------------------------------------------------


async def test_nested_routes_are_restricted_to_the_parent(rdb, client_for):
    async with client_for(related_app(rdb)) as client:
        await seed(client, heroes=6, teams=2)
        r = await client.get("/teams/1/members")
        assert r.status_code == 200, r.text
        assert {h["team_id"] for h in r.json()["items"]} == {1}
        assert r.json()["total"] == 3
        r = await client.get("/teams/1/members/2")  # hero 2 is in team 2
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Hero 2 not found"}
        r = await client.get("/teams/99/members/2")
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Team 99 not found"}
        r = await client.get("/teams/99/members")
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Team 99 not found"}
        # The foreign key comes from the path; the body cannot set it.
        r = await client.post("/teams/2/members", json={"name": "Old", "age": 3, "team_id": 1})
        assert r.status_code in (201, 422), r.text
        if r.status_code == 201:
            assert r.json()["team_id"] == 2
        r = await client.post("/teams/2/members", json={"name": "New", "age": 3})
        assert r.status_code == 201, r.text
        assert r.json()["team_id"] == 2
        new_id = r.json()["id"]
        r = await client.post("/teams/99/members", json={"name": "Newer", "age": 3})
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Team 99 not found"}
        r = await client.put(f"/teams/1/members/{new_id}", json={"name": "X", "age": 1})
        assert r.status_code == 404, r.text
        r = await client.put(f"/teams/2/members/{new_id}", json={"name": "X", "age": 1})
        assert r.status_code == 200, r.text
        assert r.json()["team_id"] == 2
        r = await client.delete(f"/teams/1/members/{new_id}")
        assert r.status_code == 404, r.text
        r = await client.delete(f"/teams/2/members/{new_id}")
        assert r.status_code == 204, r.text
        r = await client.get("/teams/2/members?limit=2")
        cursor = r.json()["next_cursor"]
        r = await client.get(f"/teams/2/members?limit=2&cursor={cursor}")
        assert r.status_code == 200, r.text
        assert {h["team_id"] for h in r.json()["items"]} == {2}


async def test_nested_routes_compose_with_scope_and_filters(rdb, client_for):
    def adults() -> Any:
        return Hero.age >= 23

    app = FastAPI(lifespan=rdb.lifespan)
    app.include_router(CRUDRouter(Country, CountryRead, session=rdb.session))
    app.include_router(CRUDRouter(Team, TeamRead, session=rdb.session))
    app.include_router(CRUDRouter(Tag, TagRead, session=rdb.session))
    app.include_router(CRUDRouter(Hero, HeroWithPowers, HeroWithPowersCreate, session=rdb.session))
    app.include_router(
        CRUDRouter(
            Hero,
            HeroRead,
            prefix="/members",
            parent=Hero.team,
            scope=adults,
            filter_fields={"age": ["lte"], "tags.slug": ["eq"]},
            session=rdb.session,
        )
    )
    async with client_for(app) as client:
        await seed(client, heroes=8, teams=2)
        r = await client.get("/teams/1/members")
        assert [h["age"] for h in r.json()["items"]] == [24, 26]
        r = await client.get("/teams/1/members?age__lte=25")
        assert [h["age"] for h in r.json()["items"]] == [24]
        r = await client.get("/teams/1/members?tags.slug=rich")
        assert [h["age"] for h in r.json()["items"]] == [24]
        r = await client.get("/teams/1/members/1")
        assert r.status_code == 404, r.text


def test_nested_paths_and_params_in_openapi():
    app = related_app(Database("sqlite+aiosqlite://"))
    doc = app.openapi()
    assert "/teams/{team_id}/members" in doc["paths"]
    assert "/teams/{team_id}/members/{item_id}" in doc["paths"]
    params = doc["paths"]["/teams/{team_id}/members/{item_id}"]["get"]["parameters"]
    assert {p["name"]: p["in"] for p in params} == {"item_id": "path", "team_id": "path"}
    listed = {p["name"] for p in doc["paths"]["/heroes"]["get"]["parameters"]}
    assert {"team.name__ilike", "tags.slug__in", "team.country.name"} <= listed
    schemas = doc["components"]["schemas"]
    hero = schemas["HeroWithPowers"]["properties"]
    assert "team" in hero and "tags" in hero and "powers" in hero
    body = schemas["HeroWithPowersCreate"]["properties"]
    assert body["tags"]["items"]["type"] == "string"
    assert "$ref" in body["powers"]["items"]


# Writing references -------------------------------------------------------------------------


async def test_unknown_foreign_key_is_409_naming_it(rdb, client_for):
    async with client_for(related_app(rdb)) as client:
        r = await client.post("/heroes", json={"name": "A", "team_id": 42})
        assert r.status_code == 409, r.text
        assert "team_id" in r.json()["detail"]


async def test_to_many_keys_set_the_collection(rdb, client_for):
    async with client_for(related_app(rdb)) as client:
        await seed(client, heroes=2, teams=1)
        r = await client.post("/heroes", json={"name": "T", "tags": ["rich", "flying"]})
        assert r.status_code == 201, r.text
        hero = r.json()["id"]
        assert sorted(t["slug"] for t in r.json()["tags"]) == ["flying", "rich"]
        r = await client.patch(f"/heroes/{hero}", json={"tags": ["strong"]})
        assert r.status_code == 200, r.text
        assert [t["slug"] for t in r.json()["tags"]] == ["strong"]
        r = await client.patch(f"/heroes/{hero}", json={"age": 5})
        assert [t["slug"] for t in r.json()["tags"]] == ["strong"]
        r = await client.put(f"/heroes/{hero}", json={"name": "T"})
        assert r.json()["tags"] == []
        r = await client.patch(f"/heroes/{hero}", json={"tags": ["nope", "rich", "nada"]})
        assert r.status_code == 409, r.text
        assert "nope" in r.json()["detail"] and "nada" in r.json()["detail"]
        r = await client.patch(f"/heroes/{hero}", json={"tags": ["rich", "rich"]})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "tags"]
        r = await client.get(f"/heroes/{hero}")
        assert r.json()["tags"] == []
        # one-to-many by keys: the team's heroes are exactly these
        r = await client.put("/teams/1", json={"name": "Team 0", "heroes": [hero]})
        assert r.status_code == 200, r.text
        r = await client.get("/teams/1/members")
        assert [h["id"] for h in r.json()["items"]] == [hero]
        r = await client.post("/teams", json={"name": "Other", "heroes": [999]})
        assert r.status_code == 409, r.text
        assert "999" in r.json()["detail"]


async def test_children_are_created_with_the_parent_in_one_transaction(rdb, client_for):
    async with client_for(related_app(rdb)) as client:
        await seed(client, heroes=1, teams=1)
        body = {"name": "P", "powers": [{"name": "a", "level": 2}, {"name": "b"}]}
        r = await client.post("/heroes", json=body)
        assert r.status_code == 201, r.text
        hero = r.json()["id"]
        assert [(p["name"], p["level"]) for p in r.json()["powers"]] == [("a", 2), ("b", 1)]
        r = await client.put(f"/heroes/{hero}", json={"name": "P", "powers": [{"name": "c"}]})
        assert r.status_code == 200, r.text
        assert [p["name"] for p in r.json()["powers"]] == ["c"]
        # A failing child rolls everything back and the error names it.
        body = {"name": "Q", "tags": ["rich"], "powers": [{"name": "ok"}, {"name": "b" * 51}]}
        r = await client.post("/heroes", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "powers", 1, "name"]
    async with rdb.open_session() as session:
        assert await session.scalar(select(func.count()).select_from(Hero)) == 2
        assert await session.scalar(select(func.count()).select_from(Power)) == 2
        assert await session.scalar(select(func.count()).select_from(hero_tags)) == 2


async def test_a_failing_child_constraint_names_its_index(rdb, client_for):
    class PowerWithId(BaseModel):
        id: int
        name: str

    class HeroWithPowerIds(BaseModel):
        name: str
        powers: list[PowerWithId]

    app = FastAPI(lifespan=rdb.lifespan)
    app.include_router(CRUDRouter(Hero, HeroWithPowers, HeroWithPowerIds, session=rdb.session))
    async with client_for(app) as client:
        body = {"name": "Z", "powers": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}
        r = await client.post("/heroes", json=body)
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith("powers[1]: "), r.text
        r = await client.get("/heroes")
        assert r.json()["total"] == 0
