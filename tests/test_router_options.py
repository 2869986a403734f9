"""Router options: configuration errors, switches, dependencies, overriding, custom filters."""

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.orm import registry

from crudrouter_sqla import ConfigurationError, CRUDRouter
from tests.apps import seed_hero
from tests.models import Hero, HeroCreate, HeroRead, Team, TeamRead, TeamWithCount


class Plain:
    pass


class HeroWithPower(HeroRead):
    power: str


class BadCreate(BaseModel):
    name: str
    team: str


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((Plain, HeroRead), {}, "not a mapped SQLAlchemy class"),
        ((Hero, HeroWithPower), {}, "HeroWithPower has fields that Hero lacks: power"),
        ((Hero, HeroRead, BadCreate), {}, "BadCreate.team is a to-one relationship"),
        ((Hero, HeroRead), {"default_limit": 200, "max_limit": 100}, "default_limit must be"),
        ((Hero, HeroRead), {"max_limit": 0}, "max_limit must be at least 1"),
        ((Hero, HeroRead), {"prefix": "/heroes/"}, "must not end with '/'"),
        ((Hero, HeroRead), {"get_route": "yes"}, "get_route must be True, False or a list"),
        ((Hero, HeroRead), {"filters": [42]}, "filters must be callables"),
        ((Hero, dict), {}, "must be a Pydantic model class"),
    ],
    ids=[
        "unmapped-class",
        "schema-field-missing",
        "create-field-not-column",
        "default-over-max",
        "max-zero",
        "prefix-slash",
        "bad-switch",
        "bad-filter",
        "schema-not-model",
    ],
)
def test_misconfiguration_raises_when_the_router_is_built(args, kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        CRUDRouter(*args, **kwargs)


def test_composite_primary_key_gets_a_segment_per_column():
    reg = registry()
    table = Table(
        "pairs",
        MetaData(),
        Column("a", Integer, primary_key=True),
        Column("b", Integer, primary_key=True),
        Column("label", String),
    )

    class Pair:
        pass

    reg.map_imperatively(Pair, table)

    class PairRead(BaseModel):
        a: int
        b: int

    router = CRUDRouter(Pair, PairRead)
    paths = {getattr(route, "path", "") for route in router.routes}
    assert "/pairs/{a}/{b}" in paths


def test_model_without_primary_key_is_refused():
    class NoKey:
        pass

    with pytest.raises(ConfigurationError):
        CRUDRouter(NoKey, HeroRead)


async def test_route_switches_leave_routes_out(db, client_for):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(
        CRUDRouter(Team, TeamRead, session=db.session, delete_route=False, replace_route=False)
    )
    async with client_for(app) as client:
        r = await client.post("/teams", json={"name": "T", "headquarters": "H"})
        assert r.status_code == 201
        assert (await client.delete("/teams/1")).status_code == 405
        assert (
            await client.put("/teams/1", json={"name": "T", "headquarters": "H"})
        ).status_code == 405
        assert (await client.patch("/teams/1", json={"name": "U"})).status_code == 200
    paths = app.openapi()["paths"]
    assert set(paths["/teams/{item_id}"]) == {"get", "patch"}


def require_token(x_token: Annotated[str | None, Header()] = None) -> None:
    if x_token != "secret":
        raise HTTPException(status_code=401, detail="Missing or wrong token")


async def test_router_wide_and_per_route_dependencies(db, client_for):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(
        CRUDRouter(
            Team,
            TeamRead,
            session=db.session,
            create_route=[Depends(require_token)],
            delete_route=[Depends(require_token)],
        )
    )
    app.include_router(
        CRUDRouter(
            Hero, HeroRead, HeroCreate, session=db.session, dependencies=[Depends(require_token)]
        )
    )
    ok = {"x-token": "secret"}
    async with client_for(app) as client:
        body = {"name": "T", "headquarters": "H"}
        assert (await client.post("/teams", json=body)).status_code == 401
        assert (await client.post("/teams", json=body, headers=ok)).status_code == 201
        assert (await client.get("/teams")).status_code == 200
        assert (await client.get("/teams/1")).status_code == 200
        assert (await client.delete("/teams/1")).status_code == 401
        assert (await client.delete("/teams/1", headers=ok)).status_code == 204
        for method, path in [("GET", "/heroes"), ("GET", "/heroes/1"), ("DELETE", "/heroes/1")]:
            assert (await client.request(method, path)).status_code == 401, (method, path)
        r = await client.post("/heroes", json={"name": "A", "secret_name": "B"}, headers=ok)
        assert r.status_code == 201, r.text


async def test_declared_route_replaces_the_generated_one(db, client_for):
    router = CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session)

    @router.get("/{item_id}")
    async def custom_get(item_id: int) -> dict[str, int | str]:
        return {"custom": "yes", "id": item_id}

    @router.get("/stats/count")
    async def stats() -> dict[str, str]:
        return {"stats": "ok"}

    gets = [r for r in router.routes if getattr(r, "path", "") == "/heroes/{item_id}"]
    assert len([r for r in gets if "GET" in r.methods]) == 1
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(router)
    async with client_for(app) as client:
        assert (await client.get("/heroes/5")).json() == {"custom": "yes", "id": 5}
        assert (await client.get("/heroes/stats/count")).json() == {"stats": "ok"}
        hero = await seed_hero(client, "Flash")
        assert (await client.delete(f"/heroes/{hero['id']}")).status_code == 204
    operations = app.openapi()["paths"]["/heroes/{item_id}"]
    assert operations["get"]["operationId"] == "get_hero"


async def test_override_with_another_parameter_name_still_replaces(db):
    router = CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session)

    @router.delete("/{hero_id}")
    async def remove(hero_id: int) -> None:
        return None

    deletes = [r for r in router.routes if "DELETE" in getattr(r, "methods", ())]
    assert [r.endpoint for r in deletes] == [remove]


def older_than(min_age: Annotated[int | None, Query(ge=0)] = None):
    return None if min_age is None else Hero.age >= min_age


def named_like(starts: str | None = None):
    return None if starts is None else Hero.name.startswith(starts, autoescape=True)


async def test_custom_filters_are_anded_into_query_and_count(db, client_for):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(
        CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session, filters=[older_than, named_like])
    )
    async with client_for(app) as client:
        for name, age in [("Bat", 40), ("Batgirl", 20), ("Robin", 15), ("Batwoman", 30)]:
            await seed_hero(client, name, age=age)
        r = await client.get("/heroes", params={"min_age": 25})
        assert r.json()["total"] == 2
        assert [h["name"] for h in r.json()["items"]] == ["Bat", "Batwoman"]
        r = await client.get("/heroes", params={"min_age": 18, "starts": "Bat"})
        assert r.json()["total"] == 3
        r = await client.get("/heroes", params={"starts": "Bat", "limit": 1, "offset": 1})
        page = r.json()
        assert (page["total"], [h["name"] for h in page["items"]]) == (3, ["Batgirl"])
        r = await client.get("/heroes", params={"min_age": -1})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["query", "min_age"]
    params = {p["name"] for p in app.openapi()["paths"]["/heroes"]["get"]["parameters"]}
    assert {"min_age", "starts", "offset", "limit"} <= params


async def test_read_schema_with_properties_uses_the_orm(db, client_for):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Team, TeamWithCount, session=db.session))
    app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session))
    async with client_for(app) as client:
        r = await client.post("/teams", json={"name": "JL", "headquarters": "Hall"})
        assert r.status_code == 201, r.text
        team = r.json()
        assert team["hero_count"] == 0
        for name in ("Superman", "Batman"):
            await seed_hero(client, name, team_id=team["id"])
        r = await client.get(f"/teams/{team['id']}")
        assert r.json()["hero_count"] == 2
        r = await client.get("/teams")
        assert r.json()["items"][0]["hero_count"] == 2
        r = await client.patch(f"/teams/{team['id']}", json={"headquarters": "Watchtower"})
        assert r.json() == {**team, "headquarters": "Watchtower", "hero_count": 2}


def test_filter_named_like_a_list_parameter_is_refused():
    reg = registry()
    table = Table(
        "things", MetaData(), Column("id", Integer, primary_key=True), Column("sort", Integer)
    )

    class Thing:
        pass

    reg.map_imperatively(Thing, table)

    class ThingRead(BaseModel):
        id: int
        sort: int | None

    with pytest.raises(ConfigurationError, match="clash with list parameters"):
        CRUDRouter(Thing, ThingRead, filter_fields={"sort": ["eq"]})


async def test_nested_router_takes_the_flat_filter_fields_without_the_parent_key(db, client_for):
    filter_fields = {"age": ["gte", "lte"], "team_id": ["eq", "in", "isnull"]}
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    app.include_router(CRUDRouter(Hero, HeroRead, filter_fields=filter_fields, session=db.session))
    nested = CRUDRouter(
        Hero,
        HeroRead,
        parent=Hero.team,
        prefix="/members",
        filter_fields=filter_fields,
        session=db.session,
    )
    app.include_router(nested)
    paths = app.openapi()["paths"]
    flat = {p["name"] for p in paths["/heroes"]["get"]["parameters"]}
    assert {"team_id", "team_id__in", "age__gte"} <= flat
    parameters = paths["/teams/{team_id}/members"]["get"]["parameters"]
    queried = {p["name"] for p in parameters if p["in"] == "query"}
    assert {"age__gte", "age__lte"} <= queried
    assert not {name for name in queried if name.startswith("team_id")}, queried
    async with client_for(app) as client:
        for name in ("JL", "Titans"):
            r = await client.post("/teams", json={"name": name, "headquarters": "HQ"})
            assert r.status_code == 201, r.text
        await seed_hero(client, "Old", age=50, team_id=1)
        await seed_hero(client, "Young", age=20, team_id=1)
        await seed_hero(client, "Other", age=50, team_id=2)
        r = await client.get("/teams/1/members?age__gte=30")
        assert r.status_code == 200, r.text
        assert [h["name"] for h in r.json()["items"]] == ["Old"]
        r = await client.get("/teams/1/members?team_id__in=2")
        assert r.status_code == 422, r.text
        assert "team_id__in" in r.text
        r = await client.get("/heroes?team_id=2")
        assert [h["name"] for h in r.json()["items"]] == ["Other"]
