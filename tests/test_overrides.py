"""Routes declared over generated ones keep the OpenAPI document valid: one path per path
shape (the declared route's parameter names win), and the declared route takes the replaced
route's name, operation id and error responses unless it gives its own."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

from crudrouter_sqla import ConfigurationError, CRUDRouter
from crudrouter_sqla.core import Database
from tests.apps import app_with, seed_hero
from tests.models import Hero, HeroCreate, HeroRead, Team, TeamRead
from tests.shapemodels import Base as ShapeBase
from tests.shapemodels import Guild, Member, Membership, MembershipRead
from tests.support.databases import database_with

_PARAM = re.compile(r"\{[^}]*\}")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Renaming is the router's business, not the database's: two backends show the requests work.
sqlite_and_postgresql = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


def assert_valid(document: dict[str, Any]) -> None:
    """The whole document is valid OpenAPI: by openapi-spec-validator where it is installed;
    else no two paths are one path under other parameter names, and operation ids are unique."""
    try:
        from openapi_spec_validator import validate
    except ImportError:
        validate = None
    if validate is not None:
        validate(document)
    shapes = Counter(_PARAM.sub("{}", path) for path in document["paths"])
    assert [s for s, n in shapes.items() if n > 1] == [], sorted(document["paths"])
    ids = Counter(
        op["operationId"]
        for ops in document["paths"].values()
        for method, op in ops.items()
        if method in _METHODS
    )
    assert [i for i, n in ids.items() if n > 1] == [], ids


def path_params(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]


def heroes(db: Database, **options: Any) -> CRUDRouter:
    return CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session, **options)


def offline_heroes(**options: Any) -> CRUDRouter:
    return CRUDRouter(Hero, HeroRead, HeroCreate, **options)


# One path per shape ---------------------------------------------------------------------------


@sqlite_and_postgresql
async def test_the_override_names_the_parameter_of_every_route_of_its_path(db, client_for):
    router = heroes(db)

    @router.get("/{hero_id}")
    async def hero_card(hero_id: int, session: AsyncSession = Depends(db.session)) -> dict:
        hero = await session.get(Hero, hero_id)
        if hero is None:
            raise HTTPException(status_code=404, detail=f"Hero {hero_id} not found")
        return {"card": hero.name.upper()}

    app = app_with(db, router)
    document = app.openapi()
    assert_valid(document)
    assert "/heroes/{item_id}" not in document["paths"]
    item = document["paths"]["/heroes/{hero_id}"]
    assert sorted(item) == ["delete", "get", "patch", "put"]
    for method, operation in item.items():
        assert path_params(operation) == ["hero_id"], method
    async with client_for(app) as client:
        hero = await seed_hero(client, "Flash")
        url = f"/heroes/{hero['id']}"
        r = await client.get(url)
        assert r.json() == {"card": "FLASH"}, r.text
        r = await client.patch(url, json={"age": 30})
        assert r.status_code == 200, r.text
        assert r.json()["age"] == 30
        r = await client.put(url, json={"name": "Barry", "secret_name": "Allen"})
        assert r.status_code == 200, r.text
        assert (r.json()["name"], r.json()["age"]) == ("Barry", None)
        r = await client.patch("/heroes/x", json={"age": 1})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["path", "hero_id"]
        r = await client.options(url)
        assert r.headers["allow"] == "GET, PUT, PATCH, DELETE", r.headers
        assert (await client.delete(url)).status_code == 204
        r = await client.delete(url)
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": f"Hero {hero['id']} not found"}
        assert (await client.get(url)).status_code == 404
        r = await client.get("/heroes")
        assert r.status_code == 200, r.text


@sqlite_and_postgresql
async def test_a_composite_key_takes_the_names_by_position(client_for, db_url):
    async with database_with(db_url, ShapeBase.metadata) as sdb:
        async with sdb.open_session() as session:
            session.add_all([Guild(id=1, name="Guild"), Member(id=2, name="Member")])
            await session.flush()
            session.add(Membership(guild_id=1, member_id=2, role="knight"))
        router = CRUDRouter(Membership, MembershipRead, session=sdb.session)

        # The names swapped: the first segment is still the guild's id.
        @router.delete("/{member_id}/{guild_id}")
        async def leave(member_id: int, guild_id: int) -> dict[str, int]:
            return {"guild": member_id, "member": guild_id}

        app = app_with(sdb, router)
        document = app.openapi()
        assert_valid(document)
        item = document["paths"]["/memberships/{member_id}/{guild_id}"]
        assert sorted(item) == ["delete", "get", "patch", "put"]
        assert path_params(item["get"]) == ["member_id", "guild_id"]
        async with client_for(app) as client:
            r = await client.get("/memberships/1/2")
            assert r.status_code == 200, r.text
            assert r.json() == {"guild_id": 1, "member_id": 2, "role": "knight"}
            r = await client.patch(
                "/memberships/1/2", json={"role": "lord"}, headers={"If-Match": r.headers["ETag"]}
            )
            assert r.status_code == 200, r.text
            assert r.json()["role"] == "lord"
            assert (await client.get("/memberships/2/1")).status_code == 404
            assert (await client.delete("/memberships/1/2")).json() == {"guild": 1, "member": 2}


@sqlite_and_postgresql
async def test_a_nested_router_renames_its_own_segment_only(db, client_for):
    router = CRUDRouter(Hero, HeroRead, parent=Hero.team, session=db.session)

    @router.put("/{hero_id}")
    async def replace(team_id: int, hero_id: int) -> dict[str, int]:
        return {"team": team_id, "hero": hero_id}

    app = app_with(db, CRUDRouter(Team, TeamRead, session=db.session), router)
    document = app.openapi()
    assert_valid(document)
    item = document["paths"]["/teams/{team_id}/heroes/{hero_id}"]
    assert sorted(item) == ["delete", "get", "patch", "put"]
    assert sorted(path_params(item["get"])) == ["hero_id", "team_id"]
    async with client_for(app) as client:
        r = await client.post("/teams", json={"name": "JL", "headquarters": "Hall"})
        team = r.json()["id"]
        r = await client.post(f"/teams/{team}/heroes", json={"name": "A", "secret_name": "B"})
        assert r.status_code == 201, r.text
        hero = r.json()["id"]
        r = await client.get(f"/teams/{team}/heroes/{hero}")
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "A"
        assert (await client.get(f"/teams/{team + 1}/heroes/{hero}")).status_code == 404
        r = await client.put(f"/teams/{team}/heroes/{hero}")
        assert r.json() == {"team": team, "hero": hero}
        assert (await client.delete(f"/teams/{team}/heroes/{hero}")).status_code == 204


def test_a_new_method_on_the_item_path_renames_and_inherits_nothing():
    router = offline_heroes()

    @router.post("/{hero_id}")
    async def poke(hero_id: int) -> dict[str, int]:
        return {"id": hero_id}

    app = FastAPI()
    app.include_router(router)
    document = app.openapi()
    assert_valid(document)
    item = document["paths"]["/heroes/{hero_id}"]
    assert sorted(item) == ["delete", "get", "patch", "post", "put"]
    assert item["get"]["operationId"] == "get_hero"
    assert item["post"]["operationId"].startswith("poke")
    assert sorted(item["post"]["responses"]) == ["200", "422"]


def test_the_same_parameter_name_renames_nothing():
    router = offline_heroes()

    @router.patch("/{item_id}")
    async def touch(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app = FastAPI()
    app.include_router(router)
    document = app.openapi()
    assert_valid(document)
    item = document["paths"]["/heroes/{item_id}"]
    assert sorted(item) == ["delete", "get", "patch", "put"]
    assert item["patch"]["operationId"] == "update_hero"


# Name, operation id and responses ------------------------------------------------------------


def test_the_override_takes_the_name_operation_id_and_error_responses():
    router = offline_heroes()
    generated = {r.name: r for r in router.routes}["replace_hero"]

    @router.put("/{hero_id}", status_code=202)
    async def replace(hero_id: int) -> dict[str, int]:
        return {"id": hero_id}

    app = FastAPI()
    app.include_router(router)
    document = app.openapi()
    assert_valid(document)
    put = document["paths"]["/heroes/{hero_id}"]["put"]
    assert put["operationId"] == "replace_hero"
    # 413 is the generated route's body limit: not the override's.
    assert sorted(put["responses"]) == ["202", "404", "409", "422", "503"]
    for status in ("404", "409", "503"):
        assert (
            put["responses"][status]
            == document["paths"]["/heroes/{hero_id}"]["patch"]["responses"][status]
        ), status
    assert generated.responses[404]["description"] in put["responses"]["404"]["description"]
    assert app.url_path_for("replace_hero", hero_id="3") == "/heroes/3"
    assert app.url_path_for("update_hero", hero_id="3") == "/heroes/3"


def test_preconditions_of_a_versioned_model_are_not_inherited():
    router = CRUDRouter(Membership, MembershipRead)

    @router.patch("/{guild}/{member}")
    async def promote(guild: int, member: int) -> None:
        return None

    app = FastAPI()
    app.include_router(router)
    document = app.openapi()
    assert_valid(document)
    item = document["paths"]["/memberships/{guild}/{member}"]
    assert {"412", "428"} <= set(item["put"]["responses"])
    assert sorted(item["patch"]["responses"]) == ["200", "404", "409", "422", "503"]
    assert item["patch"]["operationId"] == "update_membership"


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("operation_id", "fetch_hero_card", "fetch_hero_card"),
        ("name", "hero_card", "hero_card_heroes__hero_id__get"),
    ],
    ids=["operation_id", "name"],
)
def test_an_explicit_operation_id_or_name_is_kept(option, value, expected):
    router = offline_heroes()

    @router.get("/{hero_id}", **{option: value})
    async def card(hero_id: int) -> dict[str, int]:
        return {"id": hero_id}

    app = FastAPI()
    app.include_router(router)
    document = app.openapi()
    assert_valid(document)
    get = document["paths"]["/heroes/{hero_id}"]["get"]
    assert get["operationId"] == expected
    assert "404" in get["responses"] and "503" in get["responses"]
    assert document["paths"]["/heroes/{hero_id}"]["put"]["operationId"] == "replace_hero"


def test_an_explicit_unique_id_function_is_kept():
    router = offline_heroes()

    @router.get("/{hero_id}", generate_unique_id_function=lambda route: f"mine_{route.name}")
    async def card(hero_id: int) -> dict[str, int]:
        return {"id": hero_id}

    app = FastAPI()
    app.include_router(router)
    assert app.openapi()["paths"]["/heroes/{hero_id}"]["get"]["operationId"] == "mine_card"


def test_responses_the_override_documents_are_kept():
    router = offline_heroes()

    @router.delete(
        "/{hero_id}",
        status_code=204,
        responses={"404": {"description": "Never was"}, 410: {"description": "Gone"}},
    )
    async def remove(hero_id: int) -> None:
        return None

    app = FastAPI()
    app.include_router(router)
    document = app.openapi()
    assert_valid(document)
    responses = document["paths"]["/heroes/{hero_id}"]["delete"]["responses"]
    assert sorted(responses) == ["204", "404", "409", "410", "422", "503"]
    assert responses["404"] == {"description": "Never was"}
    assert responses["410"] == {"description": "Gone"}
    assert "$ref" in str(responses["409"])


def test_ids_stay_unique_when_the_router_is_included_twice():
    router = offline_heroes()

    @router.get("/{hero_id}")
    async def card(hero_id: int) -> dict[str, int]:
        return {"id": hero_id}

    app = FastAPI()
    for version in ("/v1", "/v2"):
        outer = APIRouter(prefix=version)
        outer.include_router(router)
        app.include_router(outer)
    document = app.openapi()
    assert_valid(document)
    paths = document["paths"]
    assert sorted(paths) == [
        "/v1/heroes",
        "/v1/heroes/{hero_id}",
        "/v2/heroes",
        "/v2/heroes/{hero_id}",
    ]
    assert paths["/v1/heroes/{hero_id}"]["get"]["operationId"] == "get_hero"
    assert paths["/v2/heroes/{hero_id}"]["get"]["operationId"] == "get_v2_hero"
    assert paths["/v2/heroes/{hero_id}"]["put"]["operationId"] == "replace_v2_hero"


def test_a_document_of_several_routers_and_overrides_is_valid():
    teams = CRUDRouter(Team, TeamRead)
    heroes_router = offline_heroes()
    nested = CRUDRouter(Hero, HeroRead, parent=Hero.team, prefix="/members")

    @teams.get("/{team_id}")
    async def team(team_id: int) -> dict[str, int]:
        return {"id": team_id}

    @heroes_router.get("/stats")
    async def stats() -> dict[str, int]:
        return {}

    @heroes_router.delete("/{hero_id}")
    async def remove(hero_id: int) -> None:
        return None

    @nested.patch("/{member_id}")
    async def promote(team_id: int, member_id: int) -> None:
        return None

    app = FastAPI()
    for router in (teams, heroes_router, nested):
        app.include_router(router)
    document = app.openapi()
    assert_valid(document)
    assert {"/teams/{team_id}", "/heroes/{hero_id}", "/teams/{team_id}/members/{member_id}"} <= set(
        document["paths"]
    )


# Refused at build ---------------------------------------------------------------------------


def test_a_name_another_parameter_of_the_generated_routes_takes_is_refused():
    router = offline_heroes()
    with pytest.raises(
        ConfigurationError, match=r"takes a parameter 'session' already.*\{item_id\}"
    ):

        @router.get("/{session}")
        async def card(session: int) -> dict[str, int]:
            return {"id": session}

    app = FastAPI()
    app.include_router(router)
    document = app.openapi()
    assert_valid(document)
    assert "/heroes/{item_id}" in document["paths"]


def needs_item_id(item_id: int) -> None:
    return None


def test_a_dependency_reading_the_old_name_is_refused():
    router = offline_heroes(update_route=[Depends(needs_item_id)])
    with pytest.raises(
        ConfigurationError,
        match=r"a dependency of update_hero .* reads the path parameter 'item_id'.*'hero_id'",
    ):

        @router.get("/{hero_id}")
        async def card(hero_id: int) -> dict[str, int]:
            return {"id": hero_id}

    # Nothing changed: the generated routes keep their names and paths.
    app = FastAPI()
    app.include_router(router)
    document = app.openapi()
    assert_valid(document)
    item = document["paths"]["/heroes/{item_id}"]
    assert sorted(item) == ["delete", "get", "patch", "put"]
    assert item["put"]["operationId"] == "replace_hero"
    assert path_params(item["patch"]) == ["item_id"]


def test_a_second_override_naming_the_path_otherwise_is_refused():
    router = offline_heroes()

    @router.get("/{hero_id}")
    async def card(hero_id: int) -> dict[str, int]:
        return {"id": hero_id}

    with pytest.raises(ConfigurationError, match=r"name them alike \(/\{hero_id\}\)"):

        @router.delete("/{id}")
        async def remove(id: int) -> None:
            return None

    @router.delete("/{hero_id}")
    async def remove_hero(hero_id: int) -> None:
        return None

    app = FastAPI()
    app.include_router(router)
    assert_valid(app.openapi())
