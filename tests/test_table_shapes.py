"""Composite keys, soft delete, lifecycle hooks, bulk writes and upserts, on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crudrouter_sqla import ConfigurationError, CRUDRouter, Hooks
from crudrouter_sqla.core import Database
from tests.apps import app_with
from tests.shapemodels import (
    Base,
    Flag,
    FlagRead,
    Guild,
    Item,
    ItemCreate,
    ItemRead,
    Member,
    Membership,
    MembershipRead,
    Note,
    NoteCreate,
    NoteRead,
    Setting,
    SettingRead,
)
from tests.support.databases import database_with


@pytest.fixture
async def sdb(db_url: str) -> AsyncIterator[Database]:
    async with database_with(db_url, Base.metadata) as database:
        yield database


async def count(db: Database, model: Any) -> int:
    async with db.open_session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# Composite keys -----------------------------------------------------------------------------


async def seed_memberships(db: Database, guilds: int = 2, members: int = 4) -> None:
    async with db.open_session() as session:
        session.add_all(Guild(id=g, name=f"Guild {g}") for g in range(1, guilds + 1))
        session.add_all(Member(id=m, name=f"Member {m}") for m in range(1, members + 1))
        await session.flush()
        session.add_all(
            Membership(guild_id=g, member_id=m, role="knight" if m % 2 else "squire")
            for g in range(1, guilds + 1)
            for m in range(1, members + 1)
        )


async def test_composite_keys_get_one_segment_per_column(sdb, client_for):
    await seed_memberships(sdb)
    router = CRUDRouter(Membership, MembershipRead, session=sdb.session, sort_fields=["role"])
    app = app_with(sdb, router)
    assert "/memberships/{guild_id}/{member_id}" in app.openapi()["paths"]
    async with client_for(app) as client:
        r = await client.get("/memberships/2/3")
        assert r.status_code == 200, r.text
        assert r.json() == {"guild_id": 2, "member_id": 3, "role": "knight"}
        etag = r.headers["ETag"]
        r = await client.get("/memberships/2/x")
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["path", "member_id"]
        r = await client.get("/memberships/9/3")
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Membership guild_id=9, member_id=3 not found"}
        r = await client.patch(
            "/memberships/2/3", json={"role": "lord"}, headers={"If-Match": etag}
        )
        assert r.status_code == 200, r.text
        assert r.json()["role"] == "lord"
        r = await client.patch("/memberships/2/3", json={"role": "x"}, headers={"If-Match": etag})
        assert r.status_code == 412, r.text
        r = await client.put("/memberships/2/3", json={"guild_id": 2, "member_id": 3, "role": "k"})
        assert r.status_code == 200, r.text
        r = await client.put("/memberships/2/3", json={"guild_id": 1, "member_id": 3, "role": "k"})
        assert r.status_code == 422, r.text
        r = await client.post("/memberships", json={"guild_id": 1, "member_id": 3, "role": "k"})
        assert r.status_code == 409, r.text
        r = await client.delete("/memberships/2/3")
        assert r.status_code == 204, r.text
        r = await client.delete("/memberships/2/3")
        assert r.status_code == 404, r.text
        seen: list[tuple[int, int]] = []
        url = "/memberships?sort=-role&limit=3"
        while url:
            r = await client.get(url)
            assert r.status_code == 200, r.text
            seen += [(m["guild_id"], m["member_id"]) for m in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            url = f"/memberships?sort=-role&limit=3&cursor={cursor}" if cursor else ""
        assert len(seen) == len(set(seen)) == 7


async def test_composite_keys_with_a_parent_and_a_scope(sdb, client_for):
    await seed_memberships(sdb)

    def knights_only() -> Any:
        return Membership.role == "knight"

    router = CRUDRouter(
        Membership, MembershipRead, parent=Membership.guild, scope=knights_only, session=sdb.session
    )
    app = app_with(sdb, router)
    assert "/guilds/{guild_id}/memberships/{member_id}" in app.openapi()["paths"]
    async with client_for(app) as client:
        r = await client.get("/guilds/1/memberships")
        assert [m["member_id"] for m in r.json()["items"]] == [1, 3]
        r = await client.get("/guilds/1/memberships/3")
        assert r.status_code == 200, r.text
        r = await client.get("/guilds/1/memberships/2")  # a squire: outside the scope
        assert r.status_code == 404, r.text
        r = await client.get("/guilds/7/memberships/3")
        assert r.json() == {"detail": "Guild 7 not found"}
        r = await client.post("/guilds/2/memberships", json={"member_id": 4, "role": "x"})
        assert r.status_code == 409, r.text  # (2, 4) exists


# Soft delete ------------------------------------------------------------------------------


async def test_soft_delete_hides_marks_and_restores(sdb, client_for, backend):
    router = CRUDRouter(Note, NoteRead, NoteCreate, soft_delete="deleted_at", session=sdb.session)
    app = app_with(sdb, router)
    params = {p["name"] for p in app.openapi()["paths"]["/notes"]["get"]["parameters"]}
    assert "deleted" in params
    assert "/notes/{item_id}/restore" in app.openapi()["paths"]
    async with client_for(app) as client:
        for title in ("a", "b", "c"):
            r = await client.post("/notes", json={"title": title})
            assert r.status_code == 201, r.text
        r = await client.delete("/notes/2")
        assert r.status_code == 204, r.text
        assert await count(sdb, Note) == 3  # the row stays
        for method in ("GET", "DELETE"):
            r = await client.request(method, "/notes/2")
            assert r.status_code == 404, r.text
        r = await client.patch("/notes/2", json={"title": "z"})
        assert r.status_code == 404, r.text
        r = await client.put("/notes/2", json={"title": "z"})
        assert r.status_code == 404, r.text
        r = await client.get("/notes")
        assert [n["title"] for n in r.json()["items"]] == ["a", "c"]
        assert r.json()["total"] == 2
        r = await client.get("/notes", params={"deleted": "include"})
        assert [n["title"] for n in r.json()["items"]] == ["a", "b", "c"]
        r = await client.get("/notes", params={"deleted": "only"})
        assert [n["title"] for n in r.json()["items"]] == ["b"]
        r = await client.get("/notes", params={"deleted": "maybe"})
        assert r.status_code == 422, r.text
        if backend == "mariadb":
            # MariaDB has no partial indexes: the deleted row still holds its title.
            r = await client.post("/notes", json={"title": "b"})
            assert r.status_code == 409, r.text
            await client.post("/notes", json={"title": "d"})
            r = await client.post("/notes/2/restore")
            assert r.status_code == 200, r.text
            return
        # A new note may take the title of a deleted one (partial unique index).
        r = await client.post("/notes", json={"title": "b"})
        assert r.status_code == 201, r.text
        r = await client.post("/notes/2/restore")
        assert r.status_code == 409, r.text  # the live "b" holds the title now
        r = await client.delete(f"/notes/{r.json() and 4}")
        assert r.status_code == 204, r.text
        r = await client.post("/notes/2/restore")
        assert r.status_code == 200, r.text
        assert r.json()["title"] == "b"
        r = await client.post("/notes/2/restore")
        assert r.status_code == 404, r.text
        r = await client.post("/notes/99/restore")
        assert r.status_code == 404, r.text


async def test_soft_delete_by_boolean_and_without_the_client_api(sdb, client_for):
    router = CRUDRouter(
        Flag, FlagRead, soft_delete="archived", expose_deleted=False, session=sdb.session
    )
    app = app_with(sdb, router)
    assert "/flags/{item_id}/restore" not in app.openapi()["paths"]
    async with client_for(app) as client:
        await client.post("/flags", json={"label": "x"})
        await client.post("/flags", json={"label": "y"})
        r = await client.delete("/flags/1")
        assert r.status_code == 204, r.text
        r = await client.get("/flags")
        assert [f["label"] for f in r.json()["items"]] == ["y"]
        r = await client.get("/flags", params={"deleted": "include"})
        assert r.status_code == 422, r.text
        r = await client.post("/flags/1/restore")
        assert r.status_code in (404, 405), r.text
    async with sdb.open_session() as session:
        assert (await session.get(Flag, 1)).archived is True


# Hooks ----------------------------------------------------------------------------------


def current_user(x_user: Annotated[str, Header()] = "anonymous") -> str:
    return x_user


class OwnedNotes(Hooks):
    calls: list[str] = []

    def __init__(self, user: Annotated[str, Depends(current_user)]) -> None:
        self.user = user

    async def before_create(self, session: AsyncSession, values: dict[str, Any]) -> None:
        if values["title"] == "forbidden":
            raise HTTPException(status_code=403, detail="That title is not allowed")
        values["owner"] = self.user

    async def after_create(self, session: AsyncSession, item: BaseModel) -> None:
        self.calls.append(f"created {item.title} by {self.user}")  # type: ignore[attr-defined]
        if item.title == "undo":  # type: ignore[attr-defined]
            raise HTTPException(status_code=409, detail="Undone after the insert")

    async def before_update(
        self, session: AsyncSession, item_id: Any, values: dict[str, Any]
    ) -> None:
        values["title"] = values["title"].upper()

    async def after_update(self, session: AsyncSession, item: BaseModel) -> None:
        self.calls.append(f"updated {item.title}")  # type: ignore[attr-defined]

    async def before_delete(self, session: AsyncSession, item_id: Any) -> None:
        if self.user != "admin":
            raise HTTPException(status_code=403, detail="Only admins delete notes")

    async def after_delete(self, session: AsyncSession, item_id: Any) -> None:
        self.calls.append(f"deleted {item_id}")


async def test_hooks_change_values_refuse_writes_and_see_dependencies(sdb, client_for):
    OwnedNotes.calls = []
    router = CRUDRouter(
        Note, NoteRead, NoteCreate, hooks=OwnedNotes, bulk_create_route=True, session=sdb.session
    )
    async with client_for(app_with(sdb, router)) as client:
        r = await client.post("/notes", json={"title": "hello"}, headers={"X-User": "ann"})
        assert r.status_code == 201, r.text
        assert r.json()["owner"] == "ann"
        r = await client.post("/notes", json={"title": "forbidden"})
        assert (r.status_code, r.json()) == (403, {"detail": "That title is not allowed"})
        r = await client.post("/notes", json={"title": "undo"})
        assert r.status_code == 409, r.text
        assert await count(sdb, Note) == 1
        r = await client.patch("/notes/1", json={"title": "loud"})
        assert r.json()["title"] == "LOUD"
        r = await client.delete("/notes/1", headers={"X-User": "bob"})
        assert r.status_code == 403, r.text
        r = await client.delete("/notes/1", headers={"X-User": "admin"})
        assert r.status_code == 204, r.text
        r = await client.post(
            "/notes/bulk", json=[{"title": "p"}, {"title": "q"}], headers={"X-User": "cy"}
        )
        assert r.status_code == 201, r.text
        assert [n["owner"] for n in r.json()] == ["cy", "cy"]
        r = await client.post("/notes/bulk", json=[{"title": "r"}, {"title": "forbidden"}])
        assert r.status_code == 403, r.text
    assert OwnedNotes.calls == [
        "created hello by ann",
        "created undo by anonymous",
        "updated LOUD",
        "deleted 1",
        "created p by cy",
        "created q by cy",
    ]
    assert await count(sdb, Note) == 2


# Bulk writes ------------------------------------------------------------------------------


def item_router(db: Database, **options: Any) -> CRUDRouter:
    return CRUDRouter(
        Item,
        ItemRead,
        ItemCreate,
        session=db.session,
        filter_fields={"qty": ["gte", "lte", "eq"], "name": ["startswith"]},
        bulk_create_route=True,
        bulk_update_route=True,
        bulk_delete_route=True,
        **options,
    )


async def test_bulk_insert_is_atomic_and_names_the_failing_index(sdb, client_for):
    async with client_for(app_with(sdb, item_router(sdb, max_bulk=1000))) as client:
        rows = [{"name": f"item {i:04d}", "qty": i} for i in range(1000)]
        r = await client.post("/items/bulk", json=rows[:10])
        assert r.status_code == 201, r.text
        assert [i["name"] for i in r.json()] == [f"item {i:04d}" for i in range(10)]
        # A duplicate of an existing row at index 500 rolls all 1,000 back.
        batch = [{"name": f"new {i:04d}", "qty": i} for i in range(1000)]
        batch[500] = {"name": "item 0003", "qty": 1}
        r = await client.post("/items/bulk", json=batch)
        assert r.status_code == 409, r.text
        assert "item 500" in r.json()["detail"], r.text
        assert await count(sdb, Item) == 10
        # A duplicate inside the batch names the second one.
        r = await client.post("/items/bulk", json=[{"name": "x"}, {"name": "y"}, {"name": "x"}])
        assert r.status_code == 409, r.text
        assert "item 2" in r.json()["detail"], r.text
        r = await client.post("/items/bulk", json=rows[:1] * 1001)
        assert r.status_code == 422, r.text
        r = await client.post("/items/bulk", json=[])
        assert r.status_code == 422, r.text
        r = await client.post("/items/bulk", json=[{"name": "ok"}, {"name": "z", "qty": -1}])
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"][:2] == ["body", 1]
    assert await count(sdb, Item) == 10


async def test_bulk_update_and_delete_need_filters_and_respect_the_scope(sdb, client_for):
    def small_only() -> Any:
        return Item.qty < 100

    async with client_for(app_with(sdb, item_router(sdb, scope=small_only))) as client:
        rows = [{"name": f"item {i}", "qty": i * 10} for i in range(15)]
        r = await client.post("/items/bulk", json=rows)
        assert r.status_code == 201, r.text
        r = await client.patch("/items", params={"qty__gte": 50}, json={"qty": 7})
        assert r.status_code == 200, r.text
        assert r.json() == {"count": 5}  # 50..90; 100..140 are outside the scope
        r = await client.patch("/items", json={"qty": 1})
        assert r.status_code == 422, r.text
        r = await client.delete("/items")
        assert r.status_code == 422, r.text
        r = await client.patch("/items", params={"colour": "red"}, json={"qty": 1})
        assert r.status_code == 422, r.text
        r = await client.delete("/items", params={"qty": 7})
        assert r.json() == {"count": 5}
    async with sdb.open_session() as session:
        qtys = sorted((await session.scalars(select(Item.qty))).all())
    assert qtys == [0, 10, 20, 30, 40, 100, 110, 120, 130, 140]
    async with client_for(app_with(sdb, item_router(sdb, allow_unfiltered_writes=True))) as c:
        r = await c.delete("/items")
        assert r.json() == {"count": 10}


async def test_bulk_delete_is_soft_with_soft_delete(sdb, client_for):
    router = CRUDRouter(
        Note,
        NoteRead,
        NoteCreate,
        soft_delete="deleted_at",
        filter_fields={"title": ["startswith"]},
        bulk_create_route=True,
        bulk_delete_route=True,
        session=sdb.session,
    )
    async with client_for(app_with(sdb, router)) as client:
        await client.post("/notes/bulk", json=[{"title": "a1"}, {"title": "a2"}, {"title": "b"}])
        r = await client.delete("/notes", params={"title__startswith": "a"})
        assert r.json() == {"count": 2}
        r = await client.get("/notes")
        assert [n["title"] for n in r.json()["items"]] == ["b"]
    assert await count(sdb, Note) == 3


# Upserts ----------------------------------------------------------------------------------


async def test_put_creates_a_missing_row_with_upsert(sdb, client_for):
    router = CRUDRouter(
        Setting, SettingRead, upsert=True, bulk_create_route=True, session=sdb.session
    )
    app = app_with(sdb, router)
    assert "201" in app.openapi()["paths"]["/settings/{item_id}"]["put"]["responses"]
    async with client_for(app) as client:
        r = await client.put("/settings/theme", json={"value": "dark"})
        assert r.status_code == 201, r.text
        assert r.json() == {"key": "theme", "value": "dark", "label": None}
        r = await client.put("/settings/theme", json={"value": "light"})
        assert r.status_code == 200, r.text
        assert r.json()["value"] == "light"
        r = await client.patch("/settings/missing", json={"value": "x"})
        assert r.status_code == 404, r.text
        rows = [{"key": "theme", "value": "blue"}, {"key": "lang", "value": "en"}]
        r = await client.post("/settings/bulk", json=rows)
        assert r.status_code == 409, r.text
        r = await client.post("/settings/bulk", params={"on_conflict": "ignore"}, json=rows)
        assert r.status_code == 201, r.text
        assert [s["key"] for s in r.json()] == ["lang"]
        rows = [{"key": "theme", "value": "blue"}, {"key": "tz", "value": "UTC"}]
        r = await client.post("/settings/bulk", params={"on_conflict": "update"}, json=rows)
        assert r.status_code == 201, r.text
        assert [(s["key"], s["value"]) for s in r.json()] == [("theme", "blue"), ("tz", "UTC")]
        r = await client.get("/settings/theme")
        assert r.json()["value"] == "blue"


async def test_bulk_conflicts_on_a_named_unique_constraint(sdb, client_for):
    router = CRUDRouter(
        Setting, SettingRead, conflict_target=["label"], bulk_create_route=True, session=sdb.session
    )
    async with client_for(app_with(sdb, router)) as client:
        rows = [{"key": "a", "value": "1", "label": "first"}]
        assert (await client.post("/settings/bulk", json=rows)).status_code == 201
        rows = [{"key": "b", "value": "2", "label": "first"}]
        r = await client.post("/settings/bulk", params={"on_conflict": "update"}, json=rows)
        assert r.status_code == 201, r.text
        assert r.json() == [{"key": "b", "value": "2", "label": "first"}]
    assert await count(sdb, Setting) == 1


@pytest.mark.postgres_only
async def test_concurrent_upserts_of_one_key_make_one_row(sdb, client_for, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    router = CRUDRouter(Setting, SettingRead, upsert=True, session=sdb.session)
    async with client_for(app_with(sdb, router)) as client:
        answers = await asyncio.gather(
            *[client.put("/settings/race", json={"value": str(i)}) for i in range(50)]
        )
    codes = sorted(r.status_code for r in answers)
    assert all(code < 500 for code in codes), [r.text for r in answers if r.status_code >= 500]
    assert codes.count(201) == 1, codes
    assert await count(sdb, Setting) == 1


# Configuration ----------------------------------------------------------------------------


class HeroishCreate(BaseModel):
    name: str


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        ((Note, NoteRead), {"soft_delete": "removed_at"}, "not a column of Note"),
        ((Note, NoteRead), {"soft_delete": "title"}, "nullable timestamp or a boolean"),
        ((Item, ItemRead), {"upsert": True}, "upsert needs a key the client chooses"),
        ((Setting, SettingRead), {"conflict_target": ["value"]}, "not a unique constraint"),
        ((Setting, SettingRead), {"conflict_target": ["nope"]}, "lacks"),
        ((Note, NoteRead), {"hooks": object}, "subclass of Hooks"),
        ((Item, ItemRead), {"max_bulk": 0}, "max_bulk"),
    ],
    ids=[
        "soft-missing",
        "soft-not-timestamp",
        "upsert-autoincrement",
        "target-not-unique",
        "target-missing",
        "hooks-not-class",
        "max-bulk",
    ],
)
def test_options_that_do_not_fit_raise(args, options, message):
    with pytest.raises(ConfigurationError, match=message):
        CRUDRouter(*args, **options)


def test_bulk_routes_are_documented():
    app = app_with(Database("sqlite+aiosqlite://"), item_router(Database("sqlite+aiosqlite://")))
    paths = app.openapi()["paths"]
    assert {"201", "409", "422"} <= set(paths["/items/bulk"]["post"]["responses"])
    assert (
        paths["/items/bulk"]["post"]["requestBody"]["content"]["application/json"]["schema"]["type"]
        == "array"
    )
    assert {"patch", "delete", "get", "post"} <= set(paths["/items"])
    names = {p["name"] for p in paths["/items"]["patch"]["parameters"]}
    assert {"qty__gte", "name__startswith"} <= names
