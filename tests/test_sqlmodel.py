"""SQLModel classes as the model and as the read and write schemas, on every route."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select
from sqlmodel import Field, SQLModel

from crudrouter_sqla import CRUDRouter, Page, Paginator, new_pagination
from crudrouter_sqla.core import Database


class SMTeam(SQLModel, table=True):
    """The table model doubles as the read schema."""

    __tablename__ = "sqlmodel_teams"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, unique=True)


class SMHeroBase(SQLModel):
    name: str = Field(min_length=1, max_length=100, unique=True)
    age: int | None = Field(default=None, ge=0)
    team_id: int | None = Field(default=None, foreign_key="sqlmodel_teams.id")


class SMHero(SMHeroBase, table=True):
    __tablename__ = "sqlmodel_heroes"
    id: int | None = Field(default=None, primary_key=True)


class SMHeroRead(SMHeroBase):
    id: int


class SMHeroCreate(SMHeroBase):
    pass


class SMHeroUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    age: int | None = Field(default=None, ge=0)
    team_id: int | None = None


class SMTag(SQLModel, table=True):
    """A string key the client chooses (an AutoString column)."""

    __tablename__ = "sqlmodel_tags"
    code: str = Field(primary_key=True, max_length=20)
    label: str


TABLES = [SMTeam.__table__, SMHero.__table__, SMTag.__table__]


@pytest.fixture
async def sm_db(db_url):
    database = Database(db_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(lambda c: SQLModel.metadata.create_all(c, tables=TABLES))
    try:
        yield database
    finally:
        await database.engine.dispose()


def sqlmodel_app(db: Database) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(SMTeam, SMTeam, prefix="/teams", session=db.session))
    app.include_router(
        CRUDRouter(
            SMHero,
            SMHeroRead,
            SMHeroCreate,
            update_schema=SMHeroUpdate,
            prefix="/heroes",
            session=db.session,
            filter_fields={"age": ["gte", "lt"], "team_id": ["eq"]},
            search_fields=["name"],
        )
    )

    app.include_router(CRUDRouter(SMTag, SMTag, SMTag, prefix="/tags", session=db.session))
    paginate_dep = new_pagination(session=db.session)

    @app.get("/hero-pages")
    async def hero_pages(paginate: Paginator = Depends(paginate_dep)) -> Page[SMHeroRead]:
        return await paginate(select(SMHero).order_by(SMHero.name, SMHero.id), SMHeroRead)

    return app


async def test_every_route_with_sqlmodel_classes(sm_db, client_for):
    async with client_for(sqlmodel_app(sm_db)) as client:
        r = await client.post("/teams", json={"name": "Justice League"})
        assert r.status_code == 201, r.text
        team = r.json()
        assert team == {"id": team["id"], "name": "Justice League"}

        r = await client.post("/heroes", json={"name": "Batman", "age": 42, "team_id": team["id"]})
        assert r.status_code == 201, r.text
        batman = r.json()
        assert batman == {"id": batman["id"], "name": "Batman", "age": 42, "team_id": team["id"]}
        for name, age in [("Robin", 16), ("Superman", 33)]:
            r = await client.post("/heroes", json={"name": name, "age": age})
            assert r.status_code == 201, r.text

        r = await client.get(f"/heroes/{batman['id']}")
        assert r.status_code == 200, r.text
        assert r.json() == batman

        r = await client.get("/heroes", params={"age__gte": 18, "sort": "-age", "limit": 1})
        assert r.status_code == 200, r.text
        page = r.json()
        assert [h["name"] for h in page["items"]] == ["Batman"]
        assert page["total"] == 2
        r = await client.get("/heroes", params={"cursor": page["next_cursor"], "sort": "-age"})
        assert r.status_code == 200, r.text
        assert [h["name"] for h in r.json()["items"]] == ["Superman", "Robin"]
        r = await client.get("/heroes", params={"q": "super"})
        assert [h["name"] for h in r.json()["items"]] == ["Superman"]

        r = await client.put(f"/heroes/{batman['id']}", json={"name": "Dark Knight"})
        assert r.status_code == 200, r.text
        assert r.json() == {"id": batman["id"], "name": "Dark Knight", "age": None, "team_id": None}
        r = await client.patch(f"/heroes/{batman['id']}", json={"age": 43})
        assert r.status_code == 200, r.text
        assert r.json()["age"] == 43 and r.json()["name"] == "Dark Knight"

        r = await client.patch(f"/teams/{team['id']}", json={"name": "JLA"})
        assert r.status_code == 200, r.text
        assert r.json() == {"id": team["id"], "name": "JLA"}
        r = await client.put(f"/teams/{team['id']}", json={"name": "Justice League"})
        assert r.status_code == 200, r.text

        r = await client.get("/hero-pages", params={"page": 1, "limit": 2})
        assert r.status_code == 200, r.text
        page = r.json()
        assert [h["name"] for h in page["items"]] == ["Dark Knight", "Robin"]
        assert (page["page"], page["pages"], page["total"]) == (1, 2, 3)

        r = await client.delete(f"/heroes/{batman['id']}")
        assert r.status_code == 204, r.text
        r = await client.get(f"/heroes/{batman['id']}")
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": f"SMHero {batman['id']} not found"}


async def test_a_string_key_from_sqlmodel(sm_db, client_for):
    async with client_for(sqlmodel_app(sm_db)) as client:
        r = await client.post("/tags", json={"code": "hero", "label": "Hero"})
        assert r.status_code == 201, r.text
        r = await client.get("/tags/hero")
        assert r.json() == {"code": "hero", "label": "Hero"}, r.text
        r = await client.patch("/tags/hero", json={"label": "Heroes"})
        assert r.json() == {"code": "hero", "label": "Heroes"}, r.text
        r = await client.get("/tags/" + "x" * 21)
        assert r.status_code in (404, 422), r.text
        r = await client.delete("/tags/hero")
        assert r.status_code == 204, r.text
        r = await client.get("/openapi.json")
        parameter = r.json()["paths"]["/tags/{item_id}"]["get"]["parameters"][0]
        assert parameter["schema"]["type"] == "string", parameter


async def test_errors_with_sqlmodel_classes(sm_db, client_for):
    async with client_for(sqlmodel_app(sm_db)) as client:
        r = await client.post("/heroes", json={"name": "Flash"})
        assert r.status_code == 201, r.text
        r = await client.post("/heroes", json={"name": "Flash"})
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith("Unique constraint violated")
        r = await client.post("/heroes", json={"name": "Kid Flash", "team_id": 999})
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith("Foreign key constraint violated")
        r = await client.post("/heroes", json={"name": "", "age": -1})
        assert r.status_code == 422, r.text
        assert {e["loc"][-1] for e in r.json()["detail"]} == {"name", "age"}
        r = await client.patch("/heroes/1", json={"age": -5})
        assert r.status_code == 422, r.text
        r = await client.get("/heroes", params={"sort": "power"})
        assert r.status_code == 422, r.text


async def test_openapi_names_the_sqlmodel_schemas(sm_db, client_for):
    async with client_for(sqlmodel_app(sm_db)) as client:
        r = await client.get("/openapi.json")
        assert r.status_code == 200, r.text
        schemas = r.json()["components"]["schemas"]
        assert {"SMHeroRead", "SMHeroCreate", "SMHeroUpdate", "SMTeam"} <= schemas.keys()
        post = r.json()["paths"]["/heroes"]["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/SMHeroCreate"}
