"""OpenAPI documentation of every route, and paging of the list route."""

import pytest
from fastapi import FastAPI

import crudrouter_sqla
from crudrouter_sqla import CRUDRouter, Page
from tests.apps import heroes_app, seed_hero
from tests.models import Hero, HeroCreate, HeroRead


def test_every_route_documents_its_success_and_error_responses(tmp_path):
    from crudrouter_sqla.core import Database

    app = heroes_app(Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    paths = app.openapi()["paths"]
    expected = {
        ("/heroes", "get"): {"200", "404", "422", "503"},
        ("/heroes", "post"): {"201", "409", "413", "422", "503"},
        ("/heroes/{item_id}", "get"): {"200", "404", "422", "503"},
        ("/heroes/{item_id}", "put"): {"200", "404", "409", "413", "422", "503"},
        ("/heroes/{item_id}", "patch"): {"200", "404", "409", "413", "422", "503"},
        ("/heroes/{item_id}", "delete"): {"204", "404", "409", "422", "503"},
    }
    for (path, method), codes in expected.items():
        responses = paths[path][method]["responses"]
        assert set(responses) == codes, (path, method, set(responses))
    get_one = paths["/heroes/{item_id}"]["get"]["responses"]
    assert get_one["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/HeroRead")
    assert get_one["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorResponse"
    )
    page_ref = paths["/heroes"]["get"]["responses"]["200"]["content"]["application/json"]
    # A page of read-schema items, or, with fields=, a page of the fields asked for.
    pages = [branch["$ref"] for branch in page_ref["schema"]["anyOf"]]
    assert [ref.rsplit("/", 1)[1] for ref in pages] == ["HeroPage", "HeroFieldsPage"], pages
    assert "content" not in paths["/heroes/{item_id}"]["delete"]["responses"]["204"]
    item_id = paths["/heroes/{item_id}"]["get"]["parameters"][0]
    assert item_id["schema"]["type"] == "integer"
    gadget_id = paths["/gadgets/{item_id}"]["get"]["parameters"][0]
    assert gadget_id["schema"]["format"] == "uuid"
    body = paths["/heroes"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/HeroCreate")
    limit = next(p for p in paths["/heroes"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)
    assert limit["schema"]["default"] == 20


def test_operation_ids_are_unique_across_routers():
    app = FastAPI()
    app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate))
    app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate, prefix="/v2/heroes"))
    app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate), prefix="/v3")
    ids = [
        operation["operationId"]
        for item in app.openapi()["paths"].values()
        for operation in item.values()
    ]
    assert len(ids) == 18
    assert len(set(ids)) == len(ids), sorted(ids)


async def test_pages_are_stable_and_bounded(db, client_for):
    async with client_for(heroes_app(db, default_limit=5, max_limit=10)) as client:
        for i in range(12):
            await seed_hero(client, f"Hero {i:02d}")
        r = await client.get("/heroes")
        page = r.json()
        assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (12, 5, 0, 5)
        seen = []
        for offset in range(0, 15, 5):
            r = await client.get("/heroes", params={"offset": offset, "limit": 5})
            assert r.status_code == 200, r.text
            seen += [h["id"] for h in r.json()["items"]]
        assert seen == sorted(seen) and len(set(seen)) == 12
        r = await client.get("/heroes", params={"offset": 100})
        assert r.json() == {
            "items": [],
            "total": 12,
            "limit": 5,
            "offset": 100,
            "next_cursor": None,
            "page": None,
            "pages": None,
        }


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 11}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 2**80}, "offset"),
        ({"offset": 100_001}, "offset"),
    ],
    ids=[
        "limit-zero",
        "limit-over-max",
        "limit-text",
        "offset-negative",
        "offset-huge",
        "offset-over-max",
    ],
)
async def test_bad_paging_is_422_naming_the_parameter(db, client_for, params, name):
    async with client_for(heroes_app(db, default_limit=5, max_limit=10)) as client:
        r = await client.get("/heroes", params=params)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["query", name]


def test_page_is_a_public_generic():
    page = Page[HeroRead](items=[], total=None, limit=10, offset=0)
    assert page.model_dump() == {
        "items": [],
        "total": None,
        "limit": 10,
        "offset": 0,
        "next_cursor": None,
        "page": None,
        "pages": None,
    }


def test_public_names():
    assert crudrouter_sqla.__all__ == sorted(crudrouter_sqla.__all__)
    public = {name for name in dir(crudrouter_sqla) if not name.startswith("_")}
    modules = {"core", "errors", "testing"}
    assert public - modules == set(crudrouter_sqla.__all__)
    from crudrouter_sqla import core

    assert core.__all__ == sorted(core.__all__)
    assert {n for n in dir(core) if not n.startswith("_")} == set(core.__all__)


async def test_an_app_with_more_list_routes_than_fastapis_model_cache(tmp_path):
    """FastAPI caches the fields of at most 128 query-parameter models; the list routes
    validate theirs themselves, so 150 of them document and serve like one."""
    from pydantic import BaseModel, ConfigDict, create_model
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from crudrouter_sqla.core import Database
    from crudrouter_sqla.testing import app_client

    class Base(DeclarativeBase):
        pass

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'many.db'}")
    app = FastAPI(lifespan=db.lifespan)
    only_list = {
        f"{name}_route": False for name in ("get", "create", "replace", "update", "delete")
    }
    for i in range(150):
        model = type(
            f"Thing{i}",
            (Base,),
            {
                "__tablename__": f"things_{i}",
                "__annotations__": {"id": Mapped[int], "rank": Mapped[int]},
                "id": mapped_column(primary_key=True),
                "rank": mapped_column(default=0),
            },
        )
        read = create_model(
            f"Thing{i}Read",
            __config__=ConfigDict(from_attributes=True),
            id=(int, ...),
            rank=(int, 0),
        )
        assert issubclass(read, BaseModel)
        router = CRUDRouter(model, read, session=db.session, filter_fields=["rank"], **only_list)
        app.include_router(router)
    paths = app.openapi()["paths"]
    assert len(paths) == 150
    for path in ("/things_0", "/things_149"):
        names = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert {"limit", "offset", "rank", "sort"} <= names
    await db.create_all(Base.metadata)
    async with app_client(app) as client:
        for i in (0, 75, 149, 0):
            r = await client.get(f"/things_{i}", params={"rank": 0, "limit": 5})
            assert r.status_code == 200, r.text
            assert r.json()["total"] == 0
        r = await client.get("/things_3", params={"limit": 0})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["query", "limit"]
