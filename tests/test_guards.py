"""Optimistic concurrency, tenancy, limits and auth guards."""

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crudrouter_sqla import CRUDRouter
from tests.models import Base, Hero, HeroCreate, HeroRead


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    owner: str


class DocumentCreate(BaseModel):
    title: str


def current_user(x_user: Annotated[str | None, Header()] = None) -> str:
    if not x_user:
        raise HTTPException(status_code=401, detail="Log in first")
    return x_user


def own_rows(user: Annotated[str, Depends(current_user)]):
    return Document.owner == user


def stamp_owner(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
    return {"owner": user}


def documents_app(db, **options):
    app = FastAPI(lifespan=db.new_lifespan(create_all=Base.metadata))
    app.include_router(
        CRUDRouter(
            Document, DocumentRead, DocumentCreate, session=db.session, stamp=stamp_owner, **options
        )
    )
    return app


ALICE = {"x-user": "alice"}
BOB = {"x-user": "bob"}


async def test_etag_and_if_match(db, client_for):
    async with client_for(documents_app(db)) as client:
        r = await client.post("/documents", json={"title": "Plan"}, headers=ALICE)
        assert r.status_code == 201, r.text
        doc, tag = r.json(), r.headers["etag"]
        assert tag == '"1"'
        r = await client.get(f"/documents/{doc['id']}", headers=ALICE)
        assert r.headers["etag"] == tag
        r = await client.patch(
            f"/documents/{doc['id']}", json={"title": "Plan B"}, headers={**ALICE, "If-Match": tag}
        )
        assert r.status_code == 200, r.text
        new_tag = r.headers["etag"]
        assert new_tag == '"2"'
        # The old ETag is stale now: 412, and nothing changes.
        for method, body in [("PATCH", {"title": "X"}), ("PUT", {"title": "X"}), ("DELETE", None)]:
            r = await client.request(
                method, f"/documents/{doc['id']}", json=body, headers={**ALICE, "If-Match": tag}
            )
            assert r.status_code == 412, (method, r.text)
        assert (await client.get(f"/documents/{doc['id']}", headers=ALICE)).json()["title"] == (
            "Plan B"
        )
        for weak_or_bad in ['W/"2"', '"two"', "2"]:
            r = await client.patch(
                f"/documents/{doc['id']}",
                json={"title": "Y"},
                headers={**ALICE, "If-Match": weak_or_bad},
            )
            assert r.status_code == 412, (weak_or_bad, r.text)
        r = await client.patch(
            f"/documents/{doc['id']}", json={"title": "C"}, headers={**ALICE, "If-Match": "*"}
        )
        assert r.status_code == 200 and r.headers["etag"] == '"3"'
        # Unconditional writes still bump the version.
        r = await client.put(f"/documents/{doc['id']}", json={"title": "D"}, headers=ALICE)
        assert r.headers["etag"] == '"4"'
        r = await client.patch(
            "/documents/999", json={"title": "Z"}, headers={**ALICE, "If-Match": '"1"'}
        )
        assert r.status_code == 404
        r = await client.delete(f"/documents/{doc['id']}", headers={**ALICE, "If-Match": '"4"'})
        assert r.status_code == 204


async def test_if_match_can_be_required(db, client_for):
    async with client_for(documents_app(db, require_if_match=True)) as client:
        r = await client.post("/documents", json={"title": "Plan"}, headers=ALICE)
        doc_id = r.json()["id"]
        for method in ("PATCH", "PUT", "DELETE"):
            body = None if method == "DELETE" else {"title": "X"}
            r = await client.request(method, f"/documents/{doc_id}", json=body, headers=ALICE)
            assert r.status_code == 428, (method, r.text)
        r = await client.patch(
            f"/documents/{doc_id}", json={"title": "X"}, headers={**ALICE, "If-Match": '"1"'}
        )
        assert r.status_code == 200, r.text


async def test_models_without_a_version_have_no_etag(db, client_for):
    from tests.apps import heroes_app, seed_hero

    async with client_for(heroes_app(db)) as client:
        hero = await seed_hero(client, "Flash")
        r = await client.get(f"/heroes/{hero['id']}")
        assert "etag" not in r.headers
        r = await client.patch(
            f"/heroes/{hero['id']}", json={"age": 3}, headers={"If-Match": '"9"'}
        )
        assert r.status_code == 200, r.text


async def test_scope_hides_other_tenants_rows_and_stamp_sets_the_owner(db, client_for):
    async with client_for(documents_app(db, scope=own_rows)) as client:
        r = await client.post(
            "/documents", json={"title": "Alice's", "owner": "bob"}, headers=ALICE
        )
        assert r.status_code == 201, r.text
        alice_doc = r.json()
        assert alice_doc["owner"] == "alice"
        r = await client.post("/documents", json={"title": "Bob's"}, headers=BOB)
        bob_doc = r.json()
        listing = (await client.get("/documents", headers=ALICE)).json()
        assert [d["id"] for d in listing["items"]] == [alice_doc["id"]]
        assert listing["total"] == 1
        path = f"/documents/{bob_doc['id']}"
        assert (await client.get(path, headers=ALICE)).status_code == 404
        assert (await client.patch(path, json={"title": "x"}, headers=ALICE)).status_code == 404
        assert (await client.put(path, json={"title": "x"}, headers=ALICE)).status_code == 404
        assert (await client.delete(path, headers=ALICE)).status_code == 404
        r = await client.patch(path, json={"title": "x"}, headers={**ALICE, "If-Match": '"1"'})
        assert r.status_code == 404
        assert (await client.get(path, headers=BOB)).json()["title"] == "Bob's"
        assert (await client.get("/documents", headers={})).status_code == 401


async def test_body_limit_is_413(db, client_for):
    from tests.apps import seed_hero

    app = FastAPI(lifespan=db.lifespan)
    app.include_router(
        CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session, max_body_size=200)
    )
    async with client_for(app) as client:
        r = await client.post("/heroes", json={"name": "x" * 300, "secret_name": "y"})
        assert r.status_code == 413, r.text
        assert "200 bytes" in r.json()["detail"]

        async def chunks():
            yield b'{"name": "'
            yield b"x" * 300
            yield b'", "secret_name": "y"}'

        r = await client.post(
            "/heroes", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413, r.text
        hero = await seed_hero(client, "Small")
        r = await client.patch(f"/heroes/{hero['id']}", json={"secret_name": "z" * 300})
        assert r.status_code == 413


async def test_offset_beyond_the_bound_points_to_cursor_paging(db, client_for):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session, max_offset=50))
    async with client_for(app) as client:
        assert (await client.get("/heroes", params={"offset": 50})).status_code == 200
        r = await client.get("/heroes", params={"offset": 51})
        assert r.status_code == 422
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["query", "offset"] and "cursor" in detail["msg"]


def deny_all() -> None:
    raise HTTPException(status_code=403, detail="No entry")


async def test_router_dependencies_guard_every_route_including_overrides(db, client_for):
    router = CRUDRouter(
        Hero, HeroRead, HeroCreate, session=db.session, dependencies=[Depends(deny_all)]
    )

    @router.get("/{item_id}")
    async def custom_get(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @router.get("/extra/route")
    async def extra() -> dict[str, str]:
        return {"ok": "yes"}

    app = FastAPI(lifespan=db.lifespan)
    app.include_router(router)
    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) == 7
    async with client_for(app) as client:
        for route in routes:
            for method in route.methods:
                path = route.path.replace("{item_id}", "1")
                body = (
                    {"name": "a", "secret_name": "b"}
                    if method in ("POST", "PUT", "PATCH")
                    else None
                )
                r = await client.request(method, path, json=body)
                assert r.status_code == 403, (method, path, r.text)


def test_limits_and_guards_are_checked_when_the_router_is_built():
    from crudrouter_sqla import ConfigurationError

    for options in ({"max_offset": 0}, {"max_body_size": -1}, {"scope": "owner"}, {"stamp": 3}):
        with pytest.raises(ConfigurationError):
            CRUDRouter(Hero, HeroRead, **options)
