"""The API and its OpenAPI document agree: no 500 on any JSON, a 405 that lists every method,
readable and unique names, strict derived schemas and single-valued query parameters."""

from __future__ import annotations

from typing import Annotated

import jsonschema_rs
import pytest
from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, ConfigDict

from crudrouter_sqla import CRUDRouter, strict_json
from tests.apps import heroes_app, seed_hero, seed_team
from tests.models import Hero, HeroCreate, HeroRead, Tag, TagRead, Team, TeamRead

# ----------------------------------------------------------------------------- 1. any JSON

NON_FINITE = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize("field", ["team_id", "age", "name"])
async def test_numbers_no_float_holds_are_a_422_naming_the_field(db, client_for, number, field):
    async with client_for(heroes_app(db)) as client:
        hero = await seed_hero(client, "Flash")
        body = {"name": '"x"', "secret_name": '"y"', field: number}
        raw = "{" + ", ".join(f'"{k}": {v}' for k, v in body.items()) + "}"
        headers = {"content-type": "application/json"}
        for method, url in [
            ("POST", "/heroes"),
            ("PUT", f"/heroes/{hero['id']}"),
            ("PATCH", f"/heroes/{hero['id']}"),
            ("POST", "/teams"),
        ]:
            r = await client.request(method, url, content=raw.encode(), headers=headers)
            assert r.status_code == 422, (method, url, r.text)
            detail = r.json()["detail"][0]
            assert detail["loc"] == ["body", field], detail
            assert detail["input"] == number, detail


async def test_non_finite_numbers_are_found_where_they_nest(db, client_for):
    async with client_for(heroes_app(db)) as client:
        raw = b'{"name": "x", "secret_name": "y", "extra": {"a": [1, 2, NaN]}}'
        r = await client.post("/heroes", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "extra", "a", 2]


async def test_the_example_refuses_an_overflowing_team_id(db_url, client_for):
    from crudrouter_sqla.core import Database
    from examples.heroes import create_app

    async with client_for(create_app(Database(db_url))) as client:
        raw = b'{"name": "x", "secret_identity": "y", "team_id": 1e400}'
        r = await client.post("/heroes", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "team_id"]


# ----------------------------------------------------------------------------- 2. the document


async def test_a_405_lists_every_method_the_path_serves(db, client_for):
    app = FastAPI(lifespan=db.lifespan)
    router = CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session, replace_route=False)

    @router.get("/{hero_id}")
    async def custom_get(hero_id: int) -> dict[str, int]:
        return {"id": hero_id}

    app.include_router(router)
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    async with client_for(app) as client:
        for method, url, allow in [
            ("OPTIONS", "/heroes", "GET, POST"),
            ("OPTIONS", "/heroes/1", "GET, PATCH, DELETE"),
            ("PUT", "/heroes/1", "GET, PATCH, DELETE"),
            ("DELETE", "/teams", "GET, POST"),
            ("OPTIONS", "/teams/1", "GET, PUT, PATCH, DELETE"),
        ]:
            r = await client.request(method, url)
            assert r.status_code == 405, (method, url, r.text)
            assert r.headers["allow"] == allow, (method, url, r.headers)
        paths = app.openapi()["paths"]
        assert {m.upper() for m in paths["/teams/{item_id}"]} == {"GET", "PUT", "PATCH", "DELETE"}


async def test_a_literal_path_of_the_router_is_never_an_item_key(db, client_for):
    # /tags/export, /tags/bulk and a declared /tags/stats own their paths for every method: a
    # PUT there is a 405 naming their methods, never a write to the tag "export".
    router = CRUDRouter(Tag, TagRead, session=db.session, export_route=True, bulk_create_route=True)

    @router.get("/stats")
    async def stats() -> dict[str, int]:
        return {"tags": 0}

    app = FastAPI(lifespan=db.lifespan)
    app.include_router(router, prefix="/v1")
    async with client_for(app) as client:
        for method, url, allow in [
            ("PUT", "/v1/tags/export", "GET"),
            ("DELETE", "/v1/tags/export", "GET"),
            ("PATCH", "/v1/tags/bulk", "POST"),
            ("GET", "/v1/tags/bulk", "POST"),
            ("PUT", "/v1/tags/stats", "GET"),
        ]:
            r = await client.request(method, url, json={"code": "x", "label": "y"})
            assert r.status_code == 405, (method, url, r.text)
            assert r.headers["allow"] == allow, (method, url, r.headers)
        r = await client.put("/v1/tags/exports", json={"code": "exports", "label": "E"})
        assert r.status_code in (200, 404), r.text
        assert (await client.post("/v1/tags", json={"code": "x", "label": "y"})).status_code == 201
        assert (await client.patch("/v1/tags/x", json={"label": "z"})).json()["label"] == "z"
        assert (await client.get("/v1/tags/stats")).json() == {"tags": 0}


def _schemas(app: FastAPI) -> dict:
    return app.openapi()["components"]["schemas"]


def test_operation_ids_read_well_and_names_are_unique_across_routers():
    class HeroCard(BaseModel):
        id: int
        name: str

    app = FastAPI()
    app.include_router(CRUDRouter(Hero, HeroRead))
    app.include_router(CRUDRouter(Hero, HeroCard, prefix="/hero-cards"))
    app.include_router(CRUDRouter(Hero, HeroRead, parent=Hero.team))
    app.include_router(CRUDRouter(Team, TeamRead))
    document = app.openapi()
    ids = {
        (method, path): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert len(set(ids.values())) == len(ids), sorted(ids.values())
    assert ids[("get", "/heroes")] == "list_heroes"
    assert ids[("post", "/heroes")] == "create_hero"
    assert ids[("get", "/heroes/{item_id}")] == "get_hero"
    assert ids[("put", "/heroes/{item_id}")] == "replace_hero"
    assert ids[("patch", "/heroes/{item_id}")] == "update_hero"
    assert ids[("delete", "/heroes/{item_id}")] == "delete_hero"
    assert ids[("get", "/hero-cards")] == "list_hero_cards"
    assert ids[("post", "/hero-cards")] == "create_hero_cards"
    assert ids[("get", "/teams/{team_id}/heroes")] == "list_team_heroes"
    assert ids[("get", "/teams/{team_id}/heroes/{item_id}")] == "get_team_hero"
    names = set(document["components"]["schemas"])
    assert {"HeroCreate", "HeroUpdate", "HeroPage", "HeroCardsCreate", "HeroCardsUpdate"} <= names
    assert {"TeamHeroCreate", "TeamCreate"} <= names
    assert not [n for n in names if "__" in n or "crudrouter" in n], sorted(names)
    # Each router's POST body is its own schema.
    post = document["paths"]["/hero-cards"]["post"]["requestBody"]["content"]
    assert post["application/json"]["schema"]["$ref"].endswith("/HeroCardsCreate")


def test_an_outer_prefix_stays_out_of_operation_ids_unless_they_would_collide():
    app = FastAPI()
    api = APIRouter(prefix="/api/v1")
    router = CRUDRouter(Hero, HeroRead, bulk_create_route=True, bulk_delete_route=True)
    api.include_router(router)
    app.include_router(api)
    # The same router again elsewhere, and another router with the same names.
    app.include_router(router, prefix="/v2")
    app.include_router(CRUDRouter(Hero, HeroRead), prefix="/v3")
    ids = {
        (method, path): operation["operationId"]
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    }
    assert len(set(ids.values())) == len(ids), sorted(ids.values())
    assert ids[("get", "/api/v1/heroes")] == "list_heroes"
    assert ids[("get", "/api/v1/heroes/{item_id}")] == "get_hero"
    assert ids[("post", "/api/v1/heroes/bulk")] == "bulk_create_hero"
    assert ids[("delete", "/api/v1/heroes")] == "bulk_delete_hero"
    assert ids[("get", "/v2/heroes")] == "list_v2_heroes"
    assert ids[("post", "/v2/heroes/bulk")] == "bulk_create_v2_hero"
    assert ids[("get", "/v3/heroes/{item_id}")] == "get_v3_hero"
    # Route names are the operation ids without an outer prefix: singular for one row.
    names = {getattr(route, "name", None) for route in router.routes}
    assert {"list_heroes", "get_hero", "create_hero", "bulk_create_hero"} <= names
    url = app.url_path_for("get_hero", item_id="7")
    assert url == "/api/v1/heroes/7"
    # A fresh app names the same router's operations afresh.
    other = FastAPI()
    other.include_router(router, prefix="/v2")
    assert other.openapi()["paths"]["/v2/heroes"]["get"]["operationId"] == "list_heroes"


async def test_fields_pages_fit_the_documented_page(db, client_for):
    app = heroes_app(db)
    document = app.openapi()
    schema = document["paths"]["/heroes"]["get"]["responses"]["200"]["content"]
    validator = jsonschema_rs.validator_for(
        {**schema["application/json"]["schema"], "components": document["components"]}
    )
    async with client_for(app) as client:
        await seed_hero(client, "Flash", age=28)
        for fields in (None, "id,name", "age", "team_id,secret_name,id"):
            params = {} if fields is None else {"fields": fields}
            r = await client.get("/heroes", params=params)
            assert r.status_code == 200, r.text
            errors = [e.message for e in validator.iter_errors(r.json())]
            assert not errors, (fields, errors)
            if fields:
                assert set(r.json()["items"][0]) == set(fields.split(","))


# ----------------------------------------------------------------------------- 3. strict inputs


def strict_app(db):
    """Heroes and teams under derived schemas, and tags under a lax user schema."""

    class TagWrite(BaseModel):
        code: str
        label: str

    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    app.include_router(CRUDRouter(Hero, HeroRead, session=db.session))
    app.include_router(CRUDRouter(Tag, TagRead, TagWrite, session=db.session))
    return app


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("PATCH", {"nmae": "x"}, "nmae"),
        ("PATCH", {"age": False}, "age"),
        ("PATCH", {"age": "12"}, "age"),
        ("PATCH", {"age": 1.5}, "age"),
        ("PATCH", {"name": 12}, "name"),
        ("PATCH", {"name": ["x"]}, "name"),
        ("PATCH", {"team_id": True}, "team_id"),
        ("PATCH", {"age": 2**40}, "age"),
        ("PATCH", {"name": "a\x00b"}, "name"),
        ("POST", {"name": "B", "secret_name": "s", "age": True, "team_id": None}, "age"),
        ("POST", {"name": "B", "secret_name": "s", "age": 1, "team_id": None, "x": 1}, "x"),
        ("PUT", {"name": "B", "secret_name": 5, "age": 1, "team_id": None}, "secret_name"),
    ],
)
async def test_derived_schemas_take_only_documented_json(db, client_for, method, body, field):
    async with client_for(strict_app(db)) as client:
        r = await client.post(
            "/heroes", json={"name": "A", "secret_name": "s", "age": 1, "team_id": None}
        )
        assert r.status_code == 201, r.text
        url = "/heroes" if method == "POST" else f"/heroes/{r.json()['id']}"
        r = await client.request(method, url, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", field], r.text
        r = await client.get(f"/heroes/{1}")
        assert r.json()["name"] == "A" and r.json()["age"] == 1


async def test_derived_schemas_take_integral_numbers_for_integers(db, client_for):
    async with client_for(strict_app(db)) as client:
        body = {"name": "A", "secret_name": "s", "age": 30.0, "team_id": None}
        r = await client.post("/heroes", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["age"] == 30


def test_derived_schemas_are_documented_strict(tmp_path):
    from crudrouter_sqla.core import Database

    schemas = _schemas(strict_app(Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")))
    for name in ("HeroCreate", "HeroUpdate", "TeamCreate", "TeamUpdate"):
        assert schemas[name]["additionalProperties"] is False, schemas[name]
    age = schemas["HeroCreate"]["properties"]["age"]["anyOf"][0]
    assert (age["type"], age["minimum"], age["maximum"]) == ("integer", -(2**31), 2**31 - 1)
    assert schemas["TeamCreate"]["properties"]["name"]["maxLength"] == 50
    # A user schema keeps its own setting.
    assert "additionalProperties" not in schemas["TagWrite"]


async def test_user_schemas_keep_their_own_extra_setting(db, client_for):
    async with client_for(strict_app(db)) as client:
        r = await client.post("/tags", json={"code": "a", "label": "A", "colour": "red"})
        assert r.status_code == 201, r.text


def test_strict_json_keeps_validators_and_settings():
    from pydantic import ValidationError, field_validator

    @strict_json
    class Body(BaseModel):
        model_config = ConfigDict(extra="ignore")
        name: str
        age: int | None = None
        tags: list[int] = []

        @field_validator("name")
        @classmethod
        def upper(cls, value: str) -> str:
            return value.upper()

    assert Body.__name__ == "Body"
    assert Body.model_validate({"name": "a", "extra": 1, "age": 3.0}).name == "A"
    for bad in ({"name": 1}, {"name": "a", "age": True}, {"name": "a", "tags": [1, "2"]}):
        with pytest.raises(ValidationError):
            Body.model_validate(bad)


async def test_a_repeated_query_parameter_is_a_422_naming_it(db, client_for):
    async with client_for(heroes_app(db, filter_fields=["id", "age"])) as client:
        for name, values in [
            ("sort", ["name", "-age"]),
            ("limit", ["1", "3"]),
            ("age__gte", ["40", "50"]),
            ("or", ["(age=1)", "(age=2)"]),
        ]:
            r = await client.get("/heroes", params=[(name, v) for v in values])
            assert r.status_code == 422, (name, r.text)
            detail = r.json()["detail"][0]
            assert detail["loc"] == ["query", name] and "more than once" in detail["msg"]
        # A list filter is documented as an array: repeated, it is the comma-separated list.
        for hero in ("Ant", "Bee", "Cat"):
            body = {"name": hero, "secret_name": hero.lower()}
            assert (await client.post("/heroes", json=body)).status_code == 201
        repeated = await client.get("/heroes", params=[("id__in", "1"), ("id__in", "3")])
        joined = await client.get("/heroes", params={"id__in": "1,3"})
        assert repeated.status_code == joined.status_code == 200, repeated.text
        assert repeated.json() == joined.json()
        assert [hero["id"] for hero in joined.json()["items"]] == [1, 3]


async def test_parameters_declared_as_lists_may_repeat(db, client_for):
    def named(name: Annotated[list[str] | None, Query()] = None):
        return None if name is None else Hero.name.in_(name)

    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Hero, HeroRead, session=db.session, filters=[named]))
    async with client_for(app) as client:
        for name in ("Flash", "Cyborg", "Raven"):
            r = await client.post(
                "/heroes", json={"name": name, "secret_name": "s", "age": None, "team_id": None}
            )
            assert r.status_code == 201, r.text
        r = await client.get("/heroes", params=[("name", "Flash"), ("name", "Raven")])
        assert r.status_code == 200, r.text
        assert [h["name"] for h in r.json()["items"]] == ["Flash", "Raven"]


async def test_seed_helpers_still_work(db, client_for):
    async with client_for(heroes_app(db)) as client:
        await seed_team(client)
