"""Write schemas: `write_schema` derives one from the model and lets it grow, hand-written ones
keep the column checks, and columns a ``stamp`` mapping writes are never asked for."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import pytest
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Column, ForeignKey, String, Table, Uuid, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crudrouter_sqla import ConfigurationError, CRUDRouter, Hooks, Tenancy, write_schema
from crudrouter_sqla.core import Database
from tests import relmodels as rel
from tests.models import Hero, HeroRead, Team, TeamRead
from tests.support.databases import database_with


def _refused(schema: type[BaseModel], body: dict[str, Any]) -> str:
    try:
        schema.model_validate(body)
    except ValidationError as exc:
        return str(exc.errors()[0]["loc"][0])
    raise AssertionError(f"{schema.__name__} took {body}")


def test_a_derived_write_schema_keeps_the_checks_of_the_router():
    HeroWrite = write_schema(Hero, HeroRead, exclude=["team_id"], nickname=(str, "none"))
    assert HeroWrite.__name__ == "HeroCreate"
    assert list(HeroWrite.model_fields) == ["name", "secret_name", "age", "nickname"]
    assert not HeroWrite.model_fields["nickname"].is_required()
    assert HeroWrite.model_validate({"name": "Flash", "secret_name": "B"}).age is None
    ok = {"name": "Flash", "secret_name": "Barry"}
    assert _refused(HeroWrite, {**ok, "name": "x" * 101}) == "name"  # String(100)
    assert _refused(HeroWrite, {**ok, "age": True}) == "age"  # a JSON integer only
    assert _refused(HeroWrite, {**ok, "age": 2**40}) == "age"  # the column's range
    assert _refused(HeroWrite, {**ok, "secret_name": "a\x00b"}) == "secret_name"  # no NUL
    assert _refused(HeroWrite, {**ok, "team_id": 1}) == "team_id"  # excluded: unknown
    assert _refused(HeroWrite, {**ok, "nickname": 7}) == "nickname"  # added fields too
    properties = HeroWrite.model_json_schema()["properties"]
    assert properties["name"]["maxLength"] == 100


def test_include_adds_columns_and_key_lists_and_partial_makes_an_update_schema():
    TeamWrite = write_schema(rel.Team, rel.TeamRead, include=["heroes"], name="TeamWrite")
    assert TeamWrite.__name__ == "TeamWrite"
    assert TeamWrite.model_validate({"name": "T", "heroes": [1, 2]}).heroes == [1, 2]
    assert _refused(TeamWrite, {"name": "T", "heroes": [2**40]}) == "heroes"
    HeroWrite = write_schema(Hero, include=["team_id"])
    assert "team_id" in HeroWrite.model_fields and "id" not in HeroWrite.model_fields
    HeroPatch = write_schema(Hero, HeroRead, partial=True)
    assert HeroPatch.__name__ == "HeroUpdate"
    assert not any(field.is_required() for field in HeroPatch.model_fields.values())
    assert HeroPatch.model_validate({}).model_fields_set == set()


def test_mistakes_in_a_write_schema_raise_naming_them():
    with pytest.raises(ConfigurationError, match="'powers'.*neither a column"):
        write_schema(Hero, include=["powers"])
    with pytest.raises(ConfigurationError, match="exclude names.*'nope'"):
        write_schema(Hero, exclude=["nope"])
    with pytest.raises(ConfigurationError, match="include must be a list"):
        write_schema(Hero, include="team_id")


@pytest.fixture
async def rdb(db_url: str) -> AsyncIterator[Database]:
    async with database_with(db_url, rel.Base.metadata) as database:
        yield database


class LooseHeroCreate(BaseModel):
    """A hand-written schema that says nothing of lengths or ranges."""

    name: str
    age: int | None = None
    tags: list[str] = []
    powers: list[LoosePower] = []


class LoosePower(BaseModel):
    name: str
    level: int = 1


LooseHeroCreate.model_rebuild()


async def test_a_hand_written_schema_keeps_to_the_columns(rdb, client_for):
    app = FastAPI(lifespan=rdb.lifespan)
    app.include_router(CRUDRouter(rel.Tag, rel.TagRead, session=rdb.session))
    app.include_router(
        CRUDRouter(rel.Hero, rel.HeroWithPowers, LooseHeroCreate, session=rdb.session)
    )
    async with client_for(app) as client:
        r = await client.post("/tags", json={"slug": "fast", "label": "Fast"})
        assert r.status_code == 201, r.text
        for body, field in (
            ({"name": "x" * 51}, ["body", "name"]),
            ({"name": "Flash", "age": 2**40}, ["body", "age"]),
            ({"name": "Flash", "age": "12"}, ["body", "age"]),
            ({"name": "Fl\x00sh"}, ["body", "name"]),
            ({"name": "Flash", "tags": ["x" * 31]}, ["body", "tags", 0]),
            ({"name": "Flash", "powers": [{"name": "p" * 51}]}, ["body", "powers", 0, "name"]),
            ({"name": "Flash", "powers": [{"name": "Run", "level": 2**40}]}, None),
        ):
            r = await client.post("/heroes", json=body)
            assert r.status_code == 422, (body, r.text)
            if field is not None:
                assert r.json()["detail"][0]["loc"] == field, r.text
        r = await client.post(
            "/heroes", json={"name": "Flash", "tags": ["fast"], "powers": [{"name": "Run"}]}
        )
        assert r.status_code == 201, r.text
        assert [t["slug"] for t in r.json()["tags"]] == ["fast"]
        assert [p["name"] for p in r.json()["powers"]] == ["Run"]
        document = app.openapi()["components"]["schemas"]
        assert document["LooseHeroCreate"]["properties"]["name"]["maxLength"] == 50


async def test_a_write_schema_with_key_lists_serves_a_router(rdb, client_for):
    TeamCreate = write_schema(rel.Team, rel.TeamRead, include=["heroes"])
    app = FastAPI(lifespan=rdb.lifespan)
    app.include_router(CRUDRouter(rel.Team, rel.TeamRead, TeamCreate, session=rdb.session))
    app.include_router(CRUDRouter(rel.Hero, rel.HeroRead, rel.HeroCreate, session=rdb.session))
    async with client_for(app) as client:
        r = await client.post("/heroes", json={"name": "Flash"})
        assert r.status_code == 201, r.text
        hero_id = r.json()["id"]
        r = await client.post("/teams", json={"name": "League", "heroes": [hero_id]})
        assert r.status_code == 201, r.text
        r = await client.get(f"/heroes/{hero_id}")
        assert r.json()["team_id"] is not None
        r = await client.post("/teams", json={"name": "Other", "heroes": [hero_id], "x": 1})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "x"]


def _team_of(x_team: Annotated[int, Header()]) -> int:
    return x_team


async def test_columns_a_stamp_mapping_writes_are_not_asked_for(db, client_for):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    app.include_router(CRUDRouter(Hero, HeroRead, session=db.session, stamp={"team_id": _team_of}))
    async with client_for(app) as client:
        team = await client.post("/teams", json={"name": "League", "headquarters": "Tower"})
        team_id = team.json()["id"]
        headers = {"x-team": str(team_id)}
        r = await client.post(
            "/heroes", json={"name": "Flash", "secret_name": "B"}, headers=headers
        )
        assert r.status_code == 201, r.text
        assert r.json()["team_id"] == team_id
        hero_id = r.json()["id"]
        r = await client.put(
            f"/heroes/{hero_id}", json={"name": "Flash", "secret_name": "C"}, headers=headers
        )
        assert r.status_code == 200, r.text
        r = await client.post(
            "/heroes", json={"name": "Kid", "secret_name": "W", "team_id": 99}, headers=headers
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "team_id"]
    schemas = app.openapi()["components"]["schemas"]
    for name in ("HeroCreate", "HeroUpdate"):
        assert "team_id" not in schemas[name]["properties"], name
    async with db.open_session() as session:
        assert (await session.scalars(select(Hero.team_id))).all() == [team_id]


def test_a_stamp_mapping_is_checked_when_the_router_is_built():
    with pytest.raises(ConfigurationError, match="stamp names nope, which are not columns"):
        CRUDRouter(Hero, HeroRead, stamp={"nope": _team_of})
    with pytest.raises(ConfigurationError, match="stamp maps team_id to something"):
        CRUDRouter(Hero, HeroRead, stamp={"team_id": 3})


class _Anything(BaseModel):
    name: str = Field(max_length=5)


def test_hand_written_schemas_keep_their_own_constraints_and_extra():
    router = CRUDRouter(Team, TeamRead, _Anything)
    schema = router.resource.create_schema
    assert schema.__name__ == "_Anything"
    assert schema.model_validate({"name": "abc", "other": 1}).name == "abc"  # extra: ignore
    assert _refused(schema, {"name": "abcdef"}) == "name"


async def test_bulk_inserts_write_relationships_and_name_the_row(rdb, client_for):
    class Refusing(Hooks):
        async def before_create(self, session: Any, values: dict[str, Any]) -> None:
            if values["name"] == "Nope":
                raise HTTPException(403, "not this one")

    app = FastAPI(lifespan=rdb.lifespan)
    app.include_router(CRUDRouter(rel.Tag, rel.TagRead, session=rdb.session))
    app.include_router(
        CRUDRouter(
            rel.Hero,
            rel.HeroWithPowers,
            rel.HeroWithPowersCreate,
            session=rdb.session,
            bulk_create_route=True,
            hooks=Refusing,
        )
    )
    async with client_for(app) as client:
        for slug in ("fast", "rich"):
            r = await client.post("/tags", json={"slug": slug, "label": slug})
            assert r.status_code == 201, r.text
        body = [
            {"name": "Flash", "tags": ["fast"], "powers": [{"name": "Run", "level": 9}]},
            {"name": "Batman", "tags": ["rich", "fast"]},
            {"name": "Alfred"},
        ]
        r = await client.post("/heroes/bulk", json=body)
        assert r.status_code == 201, r.text
        heroes = r.json()
        assert [h["name"] for h in heroes] == ["Flash", "Batman", "Alfred"]
        assert [sorted(t["slug"] for t in h["tags"]) for h in heroes] == [
            ["fast"],
            ["fast", "rich"],
            [],
        ]
        assert [p["name"] for p in heroes[0]["powers"]] == ["Run"]
        # One bad row fails the request, naming it, and writes nothing.
        r = await client.post("/heroes/bulk", json=[{"name": "Kid"}, {"name": "Q", "tags": ["x"]}])
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith("item 1: tags:"), r.text
        r = await client.post("/heroes/bulk", json=[{"name": "Robin"}, {"name": "Nope"}])
        assert r.status_code == 403 and r.json() == {"detail": "item 1: not this one"}
        r = await client.post("/heroes/bulk", json=[{"name": "W", "tags": ["x"] * 2}])
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", 0]
        r = await client.get("/heroes")
        assert r.json()["total"] == 3


class UuidBase(DeclarativeBase):
    pass


crate_tags = Table(
    "crate_tags",
    UuidBase.metadata,
    Column("crate_id", ForeignKey("crates.id"), primary_key=True),
    Column("label_id", ForeignKey("crate_labels.id"), primary_key=True),
)


class CrateLabel(UuidBase):
    __tablename__ = "crate_labels"
    id: Mapped[int] = mapped_column(primary_key=True)


class Crate(UuidBase):
    """A key the application makes (a random UUID): the database's rows do not sort as sent."""

    __tablename__ = "crates"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(20))
    labels: Mapped[list[CrateLabel]] = relationship(secondary=crate_tags, order_by=CrateLabel.id)


class CrateLabelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int


class CrateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    labels: list[CrateLabelRead]


async def test_bulk_rows_keep_their_own_relationships_whatever_their_keys(db_url, client_for):
    async with database_with(db_url, UuidBase.metadata) as udb:
        app = FastAPI(lifespan=udb.lifespan)
        labels = CRUDRouter(CrateLabel, CrateLabelRead, session=udb.session, bulk_create_route=True)
        app.include_router(labels)
        create = write_schema(Crate, CrateRead, include=["labels"])
        crates = CRUDRouter(Crate, CrateRead, create, session=udb.session, bulk_create_route=True)
        app.include_router(crates)
        async with client_for(app) as client:
            r = await client.post("/crate_labels/bulk", json=[{} for _ in range(12)])
            ids = [label["id"] for label in r.json()]
            body = [{"name": f"n{i}", "labels": [label]} for i, label in enumerate(ids)]
            r = await client.post("/crates/bulk", json=body)
            assert r.status_code == 201, r.text
            got = [(c["name"], [label["id"] for label in c["labels"]]) for c in r.json()]
            assert got == [(f"n{i}", [label]) for i, label in enumerate(ids)]


class ScreenedHero(BaseModel):
    """A hand-written schema with a validator of its own and the tenant column."""

    name: str
    secret_name: str
    team_id: int = 0

    @field_validator("name")
    @classmethod
    def _screened(cls, value: str) -> str:
        if value == "bad":
            raise ValueError("no bad names")
        return value


async def test_a_hand_written_schema_keeps_its_validators_under_a_tenancy(db, client_for):
    tenancy = Tenancy(column="team_id", current=_team_of)
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    app.include_router(
        CRUDRouter(Hero, HeroRead, ScreenedHero, session=db.session, tenancy=tenancy)
    )
    async with client_for(app) as client:
        team = await client.post("/teams", json={"name": "League", "headquarters": "Tower"})
        headers = {"x-team": str(team.json()["id"])}
        r = await client.post("/heroes", json={"name": "bad", "secret_name": "s"}, headers=headers)
        assert r.status_code == 422 and "no bad names" in r.text
        r = await client.post("/heroes", json={"name": "ok", "secret_name": "s"}, headers=headers)
        assert r.status_code == 201 and r.json()["team_id"] == team.json()["id"]


async def test_on_conflict_takes_rows_that_send_no_relationship_values(rdb, client_for):
    app = FastAPI(lifespan=rdb.lifespan)
    heroes = CRUDRouter(
        rel.Hero,
        rel.HeroRead,
        rel.HeroCreate,
        session=rdb.session,
        bulk_create_route=True,
        conflict_target=["name"],
    )
    app.include_router(heroes)
    async with client_for(app) as client:
        for _ in range(2):
            r = await client.post("/heroes/bulk?on_conflict=ignore", json=[{"name": "Flash"}])
            assert r.status_code == 201, r.text
        r = await client.post("/heroes/bulk?on_conflict=ignore", json=[{"name": "K", "tags": []}])
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "on_conflict"]


class TeamStamp(TypedDict):
    team_id: int


def _typed_team(x_team: Annotated[int, Header()]) -> TeamStamp:
    return {"team_id": x_team}


async def test_a_stamp_annotated_with_a_typed_dict_is_not_asked_for(db, client_for):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    app.include_router(CRUDRouter(Hero, HeroRead, session=db.session, stamp=_typed_team))
    assert "team_id" not in app.openapi()["components"]["schemas"]["HeroCreate"]["properties"]
    async with client_for(app) as client:
        team = await client.post("/teams", json={"name": "League", "headquarters": "Tower"})
        headers = {"x-team": str(team.json()["id"])}
        r = await client.post(
            "/heroes", json={"name": "Flash", "secret_name": "B"}, headers=headers
        )
        assert r.status_code == 201 and r.json()["team_id"] == team.json()["id"], r.text


class WrongStamp(TypedDict):
    nope: int


def _wrong_stamp() -> WrongStamp:
    return {"nope": 1}


def test_a_typed_dict_stamp_naming_no_column_raises_at_build():
    with pytest.raises(ConfigurationError, match="WrongStamp with nope, which are not columns"):
        CRUDRouter(Hero, HeroRead, stamp=_wrong_stamp)
