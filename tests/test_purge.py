"""Soft delete, complete: ``DELETE {prefix}/{item_id}/purge`` and ``soft_delete_values``, on
SQLite, PostgreSQL and MariaDB, with scope, tenancy, nested routers, hooks and composite keys."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, DateTime, ForeignKey, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crudrouter_sqla import ConfigurationError, CRUDRouter, Hooks, Tenancy
from crudrouter_sqla.core import Database
from tests.apps import app_with
from tests.support.databases import database_with


class Base(DeclarativeBase):
    pass


class Post(Base):
    """Soft delete by timestamp; comments refer to posts (a purge of a commented post is 409)."""

    __tablename__ = "purge_posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    owner: Mapped[str] = mapped_column(String(30), default="ann")
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))


class Remark(Base):
    """A child of a post, nested under it: ``/purge_posts/{post_id}/remarks``."""

    __tablename__ = "purge_remarks"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("purge_posts.id"))
    text: Mapped[str] = mapped_column(String(50))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    post: Mapped[Post] = relationship()


class Album(Base):
    """Tracks go with their album (an ORM cascade): a purge deletes them too."""

    __tablename__ = "purge_albums"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    tracks: Mapped[list[Track]] = relationship(cascade="all, delete-orphan")


class Track(Base):
    __tablename__ = "purge_tracks"
    id: Mapped[int] = mapped_column(primary_key=True)
    album_id: Mapped[int] = mapped_column(ForeignKey("purge_albums.id"))
    name: Mapped[str] = mapped_column(String(50))


class Doc(Base):
    """A tenant's row: ``org_id`` under a `Tenancy`."""

    __tablename__ = "purge_docs"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int]
    title: Mapped[str] = mapped_column(String(50))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))


class Pin(Base):
    """A composite key with a version column (ETags)."""

    __tablename__ = "purge_pins"
    board: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    slot: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(default=1)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    __mapper_args__ = {"version_id_col": version}


class Entry(Base):
    """Soft delete that sets several columns: the mark, who deleted it, a flag, a reason."""

    __tablename__ = "purge_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(String(50))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(String(30))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(30))
    removed_on: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(default=0)


class PostRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str


class RemarkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    post_id: int
    text: str


class AlbumRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class TrackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    album_id: int
    name: str


class DocRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str


class PinRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    board: int
    slot: int
    label: str


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    deleted_by: str | None
    hidden: bool
    reason: str | None


def current_user(x_user: Annotated[str, Header()] = "ann") -> str:
    return x_user


ENTRY_VALUES: dict[str, Any] = {
    "deleted_by": current_user,
    "hidden": True,
    "reason": "removed",
    "removed_on": func.now(),
}
"""The columns every router over `Entry` sets on soft delete (a fact of the model)."""


@pytest.fixture
async def pdb(db_url: str) -> AsyncIterator[Database]:
    async with database_with(db_url, Base.metadata) as database:
        yield database


async def rows(db: Database, model: Any) -> list[Any]:
    async with db.open_session() as session:
        return list((await session.scalars(select(model))).all())


def posts(db: Database, **options: Any) -> CRUDRouter:
    options.setdefault("purge_route", True)
    return CRUDRouter(Post, PostRead, session=db.session, soft_delete="deleted_at", **options)


def entries(db: Database, **options: Any) -> CRUDRouter:
    return CRUDRouter(
        Entry,
        EntryRead,
        session=db.session,
        soft_delete="deleted_at",
        soft_delete_values=ENTRY_VALUES,
        **options,
    )


# The purge route -----------------------------------------------------------------------------


async def test_purge_removes_live_and_soft_deleted_rows_for_good(pdb, client_for):
    app = app_with(pdb, posts(pdb))
    async with client_for(app) as client:
        for title in ("a", "b"):
            r = await client.post("/purge_posts", json={"title": title})
            assert r.status_code == 201, r.text
        assert (await client.delete("/purge_posts/1")).status_code == 204
        r = await client.delete("/purge_posts/1/purge")  # soft-deleted
        assert r.status_code == 204, r.text
        assert r.content == b""
        r = await client.delete("/purge_posts/2/purge")  # alive
        assert r.status_code == 204, r.text
        assert await rows(pdb, Post) == []
        r = await client.delete("/purge_posts/1/purge")
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Post 1 not found"}
        r = await client.post("/purge_posts/1/restore")
        assert r.status_code == 404, r.text


async def test_purge_is_off_by_default(pdb, client_for):
    router = CRUDRouter(Post, PostRead, session=pdb.session, soft_delete="deleted_at")
    app = app_with(pdb, router)
    assert "/purge_posts/{item_id}/purge" not in app.openapi()["paths"]
    async with client_for(app) as client:
        await client.post("/purge_posts", json={"title": "a"})
        r = await client.delete("/purge_posts/1/purge")
        assert r.status_code == 404, r.text
        assert len(await rows(pdb, Post)) == 1


def test_purge_without_soft_delete_is_refused():
    with pytest.raises(ConfigurationError, match="purge_route .* has no soft_delete"):
        CRUDRouter(Track, TrackRead, purge_route=True)
    with pytest.raises(ConfigurationError, match="purge_route must be True, False or a list"):
        CRUDRouter(Post, PostRead, soft_delete="deleted_at", purge_route="yes")  # type: ignore[arg-type]


def test_purge_is_documented_in_openapi(pdb):
    app = app_with(pdb, posts(pdb))
    operation = app.openapi()["paths"]["/purge_posts/{item_id}/purge"]["delete"]
    assert operation["operationId"] == "purge_post"
    assert operation["summary"] == "Delete a Post for good"
    assert set(operation["responses"]) == {"204", "404", "409", "422", "503"}
    schema = operation["responses"]["409"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    assert [p["name"] for p in operation["parameters"]] == ["item_id"]


async def test_purge_route_takes_its_own_dependencies(pdb, client_for):
    def admin(x_role: Annotated[str, Header()] = "user") -> None:
        if x_role != "admin":
            raise HTTPException(status_code=403, detail="Admins only")

    app = app_with(pdb, posts(pdb, purge_route=[Depends(admin)]))
    async with client_for(app) as client:
        await client.post("/purge_posts", json={"title": "a"})
        assert (await client.delete("/purge_posts/1")).status_code == 204  # no admin needed
        r = await client.delete("/purge_posts/1/purge")
        assert r.status_code == 403, r.text
        r = await client.delete("/purge_posts/1/purge", headers={"X-Role": "admin"})
        assert r.status_code == 204, r.text


async def test_purge_of_a_referenced_row_is_the_409_of_delete(pdb, client_for):
    app = app_with(pdb, posts(pdb))
    async with client_for(app) as client:
        await client.post("/purge_posts", json={"title": "a"})
        async with pdb.open_session() as session:
            session.add(Remark(post_id=1, text="first"))
        r = await client.delete("/purge_posts/1/purge")
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith("Foreign key constraint violated")
        assert len(await rows(pdb, Post)) == 1


async def test_purge_runs_relationship_cascades(pdb, client_for):
    router = CRUDRouter(
        Album, AlbumRead, session=pdb.session, soft_delete="deleted_at", purge_route=True
    )
    app = app_with(pdb, router)
    async with client_for(app) as client:
        await client.post("/purge_albums", json={"name": "one"})
        await client.post("/purge_albums", json={"name": "two"})
        async with pdb.open_session() as session:
            session.add_all([Track(album_id=1, name="x"), Track(album_id=2, name="y")])
        assert (await client.delete("/purge_albums/1")).status_code == 204
        assert len(await rows(pdb, Track)) == 2  # a soft delete keeps the tracks
        r = await client.delete("/purge_albums/1/purge")
        assert r.status_code == 204, r.text
        assert [t.name for t in await rows(pdb, Track)] == ["y"]
        r = await client.delete("/purge_albums/1/purge")
        assert r.status_code == 404, r.text


async def test_purge_stays_within_the_scope(pdb, client_for):
    def own(x_user: Annotated[str, Header()] = "ann") -> Any:
        return Post.owner == x_user

    app = app_with(pdb, posts(pdb, scope=own))
    async with client_for(app) as client:
        async with pdb.open_session() as session:
            session.add_all([Post(title="a", owner="ann"), Post(title="b", owner="bob")])
        hidden = await client.delete("/purge_posts/2/purge")
        unknown = await client.delete("/purge_posts/9/purge")
        assert hidden.status_code == unknown.status_code == 404, hidden.text
        assert hidden.json() == {"detail": "Post 2 not found"}
        r = await client.delete("/purge_posts/2/purge", headers={"X-User": "bob"})
        assert r.status_code == 204, r.text
        assert [p.title for p in await rows(pdb, Post)] == ["a"]


async def test_purge_stays_within_the_tenancy(pdb, client_for):
    def current_org(x_org: Annotated[int, Header()]) -> int:
        return x_org

    tenancy = Tenancy(column="org_id", current=current_org)
    router = CRUDRouter(
        Doc,
        DocRead,
        session=pdb.session,
        soft_delete="deleted_at",
        tenancy=tenancy,
        purge_route=True,
    )
    app = app_with(pdb, router)
    async with client_for(app) as client:
        r = await client.post("/purge_docs", json={"title": "a"}, headers={"X-Org": "1"})
        assert r.status_code == 201, r.text
        await client.post("/purge_docs", json={"title": "b"}, headers={"X-Org": "2"})
        await client.delete("/purge_docs/2", headers={"X-Org": "2"})
        hidden = await client.delete("/purge_docs/2/purge", headers={"X-Org": "1"})
        unknown = await client.delete("/purge_docs/9/purge", headers={"X-Org": "1"})
        assert hidden.status_code == unknown.status_code == 404, hidden.text
        assert hidden.json() == {"detail": "Doc 2 not found"}
        r = await client.delete("/purge_docs/2/purge", headers={"X-Org": "2"})
        assert r.status_code == 204, r.text
        assert [d.title for d in await rows(pdb, Doc)] == ["a"]


async def test_purge_of_a_nested_row_needs_its_visible_parent(pdb, client_for):
    remarks = CRUDRouter(
        Remark,
        RemarkRead,
        parent=Remark.post,
        session=pdb.session,
        soft_delete="deleted_at",
        purge_route=True,
    )
    app = app_with(pdb, posts(pdb), remarks)
    path = "/purge_posts/{post_id}/purge_remarks/{item_id}/purge"
    assert app.openapi()["paths"][path]["delete"]["operationId"] == "purge_post_remark"
    async with client_for(app) as client:
        await client.post("/purge_posts", json={"title": "a"})
        await client.post("/purge_posts", json={"title": "b"})
        for post in (1, 1, 2):
            r = await client.post(f"/purge_posts/{post}/purge_remarks", json={"text": "t"})
            assert r.status_code == 201, r.text
        r = await client.delete("/purge_posts/2/purge_remarks/1/purge")  # another post's
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Remark 1 not found"}
        r = await client.delete("/purge_posts/9/purge_remarks/1/purge")
        assert r.json() == {"detail": "Post 9 not found"}
        assert (await client.delete("/purge_posts/1")).status_code == 204
        r = await client.delete("/purge_posts/1/purge_remarks/1/purge")  # soft-deleted parent
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Post 1 not found"}
        assert (await client.post("/purge_posts/1/restore")).status_code == 200
        r = await client.delete("/purge_posts/1/purge_remarks/1/purge")
        assert r.status_code == 204, r.text
        assert sorted(m.id for m in await rows(pdb, Remark)) == [2, 3]


async def test_purge_runs_the_delete_hooks(pdb, client_for):
    calls: list[tuple[str, Any, str]] = []

    class Guarded(Hooks):
        def __init__(self, request: Request, x_user: Annotated[str, Header()] = "ann") -> None:
            self.route = request.scope["route"].name
            self.user = x_user

        async def before_delete(self, session: AsyncSession, item_id: Any) -> None:
            if self.user != "ann":
                raise HTTPException(status_code=403, detail="Only Ann deletes")
            calls.append(("before", item_id, self.route))

        async def after_delete(self, session: AsyncSession, item_id: Any) -> None:
            calls.append(("after", item_id, self.route))

    app = app_with(pdb, posts(pdb, hooks=Guarded))
    async with client_for(app) as client:
        await client.post("/purge_posts", json={"title": "a"})
        r = await client.delete("/purge_posts/1/purge", headers={"X-User": "bob"})
        assert r.status_code == 403, r.text
        assert len(await rows(pdb, Post)) == 1
        r = await client.delete("/purge_posts/9/purge")  # a 404 before any hook
        assert r.status_code == 404, r.text
        assert (await client.delete("/purge_posts/1")).status_code == 204
        assert (await client.delete("/purge_posts/1/purge")).status_code == 204
        assert calls == [
            ("before", 1, "delete_post"),
            ("after", 1, "delete_post"),
            ("before", 1, "purge_post"),
            ("after", 1, "purge_post"),
        ]
        assert await rows(pdb, Post) == []


async def test_purge_by_composite_key_honours_if_match(pdb, client_for):
    router = CRUDRouter(
        Pin,
        PinRead,
        session=pdb.session,
        soft_delete="archived",
        purge_route=True,
        require_if_match=True,
    )
    app = app_with(pdb, router)
    path = app.openapi()["paths"]["/purge_pins/{board}/{slot}/purge"]["delete"]
    assert {"412", "428"} <= set(path["responses"])
    async with client_for(app) as client:
        for slot in (1, 2):
            body = {"board": 1, "slot": slot, "label": f"pin {slot}"}
            assert (await client.post("/purge_pins", json=body)).status_code == 201
        etag = (await client.get("/purge_pins/1/2")).headers["ETag"]
        r = await client.delete("/purge_pins/1/2/purge")
        assert r.status_code == 428, r.text
        r = await client.delete("/purge_pins/1/2/purge", headers={"If-Match": '"99"'})
        assert r.status_code == 412, r.text
        r = await client.delete("/purge_pins/1/3/purge", headers={"If-Match": etag})
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Pin board=1, slot=3 not found"}
        r = await client.delete("/purge_pins/1/2/purge", headers={"If-Match": etag})
        assert r.status_code == 204, r.text
        assert [(p.board, p.slot) for p in await rows(pdb, Pin)] == [(1, 1)]


# Soft delete that sets several columns -------------------------------------------------------


async def test_soft_delete_values_are_set_on_delete_and_cleared_on_restore(pdb, client_for):
    app = app_with(pdb, entries(pdb))
    async with client_for(app) as client:
        r = await client.post("/purge_entries", json={"title": "a"})
        assert r.status_code == 201, r.text
        r = await client.delete("/purge_entries/1", headers={"X-User": "bob"})
        assert r.status_code == 204, r.text
        [entry] = await rows(pdb, Entry)
        assert entry.deleted_at is not None
        assert (entry.deleted_by, entry.hidden, entry.reason) == ("bob", True, "removed")
        assert entry.removed_on is not None
        assert (await client.get("/purge_entries/1")).status_code == 404
        r = await client.post("/purge_entries/1/restore")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "id": 1,
            "title": "a",
            "deleted_by": None,
            "hidden": False,
            "reason": None,
        }
        [entry] = await rows(pdb, Entry)
        assert (entry.deleted_at, entry.removed_on) == (None, None)


async def test_soft_delete_values_mark_bulk_deletes_too(pdb, client_for):
    app = app_with(
        pdb, entries(pdb, bulk_delete_route=True, filter_fields={"title": ["startswith"]})
    )
    async with client_for(app) as client:
        for title in ("ax", "ay", "b"):
            await client.post("/purge_entries", json={"title": title})
        r = await client.delete(
            "/purge_entries", params={"title__startswith": "a"}, headers={"X-User": "cy"}
        )
        assert r.json() == {"count": 2}, r.text
        marked = {e.title: (e.deleted_by, e.hidden) for e in await rows(pdb, Entry)}
        assert marked == {"ax": ("cy", True), "ay": ("cy", True), "b": (None, False)}


async def test_soft_delete_values_are_never_written_by_clients(pdb, client_for):
    app = app_with(pdb, entries(pdb))
    schemas = app.openapi()["components"]["schemas"]
    for name in ("EntryCreate", "EntryUpdate"):
        fields = set(schemas[name]["properties"])
        assert fields.isdisjoint({"deleted_at", "deleted_by", "hidden", "reason", "removed_on"})
    async with client_for(app) as client:
        r = await client.post("/purge_entries", json={"title": "a", "deleted_by": "eve"})
        assert r.status_code == 422, r.text
        r = await client.patch("/purge_entries/1", json={"hidden": True})
        assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"soft_delete_values": {"gone": True}}, "'gone', which is not a column of Entry"),
        ({"soft_delete_values": {"id": 1}}, "Entry.id, a key column"),
        ({"soft_delete_values": {"deleted_at": None}}, "the soft-delete mark"),
        ({"soft_delete_values": {"count": 1}}, "must be nullable .* or a boolean"),
        ({"soft_delete_values": ["deleted_by"]}, "must be a mapping of columns"),
        (
            {
                "soft_delete_values": {"org_id": 1},
                "tenancy": Tenancy(column="org_id", current=lambda: 1),
            },
            "Entry.org_id, the tenant column",
        ),
        (
            {"soft_delete_values": {"title": "x"}, "stamp": {"title": lambda: "t"}},
            "Entry.title, a column the stamp writes",
        ),
    ],
    ids=["unknown", "key", "mark", "not-nullable", "not-a-mapping", "tenant", "stamped"],
)
def test_soft_delete_values_mistakes_are_refused_at_build(options, message):
    with pytest.raises(ConfigurationError, match=message):
        CRUDRouter(Entry, EntryRead, soft_delete="deleted_at", **options)


def test_soft_delete_values_need_soft_delete():
    with pytest.raises(ConfigurationError, match="router has no soft_delete"):
        CRUDRouter(Entry, EntryRead, soft_delete_values={"deleted_by": current_user})


def test_soft_delete_values_refuse_the_parent_key():
    with pytest.raises(ConfigurationError, match="Remark.post_id, the parent key"):
        CRUDRouter(
            Remark,
            RemarkRead,
            parent=Remark.post,
            soft_delete="deleted_at",
            soft_delete_values={"post_id": None},
        )


def test_a_write_schema_that_names_a_soft_delete_value_is_refused():
    class EntryWrite(BaseModel):
        title: str
        reason: str | None = None

    with pytest.raises(ConfigurationError, match="writes 'reason', a soft-delete column"):
        entries(Database("sqlite+aiosqlite://"), create_schema=EntryWrite)


def test_routers_over_one_model_must_set_the_same_soft_delete_values():
    db = Database("sqlite+aiosqlite://")
    entries(db)
    with pytest.raises(ConfigurationError, match="every router over the model must set"):
        CRUDRouter(Entry, EntryRead, soft_delete="deleted_at", soft_delete_values={"reason": "x"})
    with pytest.raises(ConfigurationError, match="sets no columns"):
        CRUDRouter(Entry, EntryRead, soft_delete="deleted_at", prefix="/plain")
