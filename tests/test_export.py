"""``GET {prefix}/export``: every matching row in the list's order, streamed as NDJSON or CSV,
under the list's filters, scope, tenancy and soft-delete rules; on SQLite, PostgreSQL and
MariaDB. An export of 100,000 rows parses back (``csv`` and ``json``) to exactly the rows of
the paged list."""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import Header
from pydantic import BaseModel, ConfigDict
from sqlalchemy import DateTime, ForeignKey, String, TypeDecorator, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crudrouter_sqla import ConfigurationError, CRUDRouter, Tenancy
from crudrouter_sqla.core import Database
from tests.apps import app_with
from tests.support.databases import database_with


class Fragile(TypeDecorator[str]):
    """Text that fails to load when it reads ``boom``: a failure in the middle of an export."""

    impl = String(40)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value == "boom":
            raise RuntimeError("the database connection broke")
        return value


class Base(DeclarativeBase):
    pass


class Shelf(Base):
    __tablename__ = "exp_shelves"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int]
    label: Mapped[str] = mapped_column(String(30))


class Book(Base):
    __tablename__ = "exp_books"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int]
    title: Mapped[str] = mapped_column(Fragile())
    pages: Mapped[int | None]
    shelf_id: Mapped[int | None] = mapped_column(ForeignKey("exp_shelves.id"))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    shelf: Mapped[Shelf | None] = relationship()


class ShelfRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    label: str


class BookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    pages: int | None
    shelf_id: int | None


class BookWithShelf(BookRead):
    shelf: ShelfRead | None


def tenant_of(x_org: int = Header(1)) -> int:
    return x_org


TENANCY = Tenancy("org_id", current=tenant_of)


def books(db: Database, schema: Any = BookRead, **options: Any) -> CRUDRouter:
    options = {
        "session": db.session,
        "tenancy": TENANCY,
        "soft_delete": "deleted_at",
        "filter_fields": {"pages": ["gte", "lt", "isnull"], "shelf.label": ["eq"]},
        "export_route": True,
        "max_limit": 1000,
        **options,
    }
    return CRUDRouter(Book, schema, **options)


def rows_of(count: int) -> list[dict[str, Any]]:
    titles = ["=SUM(A1:A9)", "+1", "-2", "@cmd", "plain, with comma", 'say "hi"', "two\nlines"]
    return [
        {
            "id": i,
            "org_id": 2 if i % 10 == 0 else 1,
            "title": titles[i % len(titles)] if i <= 50 else f"book {i}",
            "pages": None if i % 9 == 0 else (i * 37) % 1000,
            "shelf_id": None if i % 4 == 0 else 1 + i % 2,
            "deleted_at": (
                datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) if i % 23 == 0 else None
            ),
        }
        for i in range(1, count + 1)
    ]


async def seed(db: Database, count: int) -> None:
    shelves = [{"id": 1, "org_id": 1, "label": "left"}, {"id": 2, "org_id": 2, "label": "right"}]
    async with db.engine.begin() as connection:
        await connection.execute(insert(Shelf.__table__), shelves)
        rows = rows_of(count)
        for start in range(0, len(rows), 10_000):
            await connection.execute(insert(Book.__table__), rows[start : start + 10_000])


@pytest.fixture
async def edb(db_url: str) -> AsyncIterator[Database]:
    async with database_with(db_url, Base.metadata) as database:
        await seed(database, 300)
        yield database


async def paged(client: Any, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of the list, following its cursors."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": "1000", "count": "none"}
        if cursor is not None:
            query["cursor"] = cursor
        r = await client.get(path, params=query)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def as_cells(item: dict[str, Any]) -> dict[str, str]:
    """An item as the export writes it to CSV (formulas guarded)."""
    cells = {}
    for key, value in item.items():
        if value is None:
            cells[key] = ""
        elif isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            cells[key] = "'" + value
        elif isinstance(value, dict | list):
            cells[key] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        else:
            cells[key] = str(value)
    return cells


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort": "-pages"},
        {"pages__gte": "500", "sort": "title"},
        {"shelf.label": "left", "fields": "id,title"},
        {"deleted": "only"},
        {"pages__isnull": "true", "deleted": "include"},
    ],
)
async def test_an_export_holds_exactly_the_rows_of_the_list(edb, client_for, params):
    async with client_for(app_with(edb, books(edb))) as client:
        listed = await paged(client, "/exp_books", params)
        lines = await client.get("/exp_books/export", params=params)
        assert lines.status_code == 200, lines.text
        assert lines.headers["content-type"] == "application/x-ndjson"
        assert lines.text.endswith("\n") or not listed
        assert [json.loads(line) for line in lines.text.splitlines()] == listed
        table = await client.get("/exp_books/export", params={**params, "format": "csv"})
        assert table.status_code == 200, table.text
        assert table.headers["content-type"] == "text/csv; charset=utf-8"
        assert table.headers["content-disposition"] == 'attachment; filename="exp_books.csv"'
        names = params.get("fields", "id,title,pages,shelf_id").split(",")
        assert table.text.split("\r\n", 1)[0] == ",".join(names)
        assert parse_csv(table.text) == [as_cells(item) for item in listed]


async def test_formulas_are_guarded_unless_the_router_opts_out(edb, client_for):
    async with client_for(app_with(edb, books(edb))) as client:
        r = await client.get("/exp_books/export", params={"format": "csv", "pages__lt": "1000"})
        titles = [row["title"] for row in parse_csv(r.text)]
        assert "'=SUM(A1:A9)" in titles and "'+1" in titles and "'@cmd" in titles
        assert 'say "hi"' in titles and "two\nlines" in titles and "plain, with comma" in titles
        assert not any(t.startswith(("=", "+", "-", "@")) for t in titles)
    async with client_for(app_with(edb, books(edb, csv_formulas=True))) as client:
        r = await client.get("/exp_books/export", params={"format": "csv"})
        assert "=SUM(A1:A9)" in [row["title"] for row in parse_csv(r.text)]


async def test_another_tenants_rows_are_never_exported(edb, client_for):
    async with client_for(app_with(edb, books(edb))) as client:
        for org in (1, 2):
            r = await client.get("/exp_books/export", headers={"x-org": str(org)})
            ids = [json.loads(line)["id"] for line in r.text.splitlines()]
            want = [
                row["id"]
                for row in rows_of(300)
                if row["org_id"] == org and row["deleted_at"] is None
            ]
            assert ids == want


async def test_embedded_rows_are_exported_as_json_cells(edb, client_for):
    async with client_for(app_with(edb, books(edb, BookWithShelf))) as client:
        listed = await paged(client, "/exp_books", {})
        r = await client.get("/exp_books/export", params={"format": "csv"})
        assert parse_csv(r.text) == [as_cells(item) for item in listed]
        # Another tenant's shelf is not embedded.
        assert all(item["shelf"] in (None, {"id": 1, "label": "left"}) for item in listed)
        lines = await client.get("/exp_books/export")
        assert [json.loads(line) for line in lines.text.splitlines()] == listed


async def test_a_scope_bounds_the_export(edb, client_for):
    def thick() -> Any:
        return Book.pages >= 900

    async with client_for(app_with(edb, books(edb, scope=thick))) as client:
        r = await client.get("/exp_books/export")
        pages = [json.loads(line)["pages"] for line in r.text.splitlines()]
        assert pages and all(p >= 900 for p in pages)


async def test_more_rows_than_max_export_rows_is_a_422(edb, client_for):
    async with client_for(app_with(edb, books(edb, max_export_rows=100))) as client:
        r = await client.get("/exp_books/export")
        assert r.status_code == 422, r.text
        assert "more than 100 rows" in r.json()["detail"][0]["msg"]
        narrow = await client.get("/exp_books/export", params={"pages__lt": "300"})
        assert narrow.status_code == 200, narrow.text


async def test_a_failure_mid_stream_ends_the_body_unfinished(edb, client_for):
    async with edb.open_session() as session:
        await session.execute(
            insert(Book), [{"id": 5000, "org_id": 1, "title": "boom", "pages": 1}]
        )
        await session.commit()
    async with client_for(app_with(edb, books(edb))) as client:
        received = b""
        with pytest.raises(RuntimeError, match="connection broke"):
            async with client.stream("GET", "/exp_books/export") as r:
                assert r.status_code == 200
                async for chunk in r.aiter_bytes():
                    received += chunk
        # The first batches came through; the row that broke and those after it did not.
        assert b'"id":5000' not in received


@pytest.mark.parametrize(
    ("params", "part"),
    [
        ({"format": "xml"}, "format"),
        ({"sort": "nope"}, "sort"),
        ({"fields": "id,nope"}, "fields"),
        ({"pages__gte": "many"}, "pages__gte"),
        ({"limit": "10"}, "limit"),
    ],
)
async def test_bad_export_requests_are_422s_naming_the_part(edb, client_for, params, part):
    async with client_for(app_with(edb, books(edb))) as client:
        r = await client.get("/exp_books/export", params=params)
        assert r.status_code == 422, r.text
        assert part in [str(p) for p in r.json()["detail"][0]["loc"]]


async def test_a_nested_export_needs_a_visible_parent(edb, client_for):
    nested = CRUDRouter(
        Book, BookRead, session=edb.session, parent=Book.shelf, tenancy=TENANCY, export_route=True
    )
    async with client_for(app_with(edb, nested)) as client:
        r = await client.get("/exp_shelves/1/exp_books/export")
        assert r.status_code == 200
        assert {json.loads(line)["shelf_id"] for line in r.text.splitlines()} == {1}
        assert (await client.get("/exp_shelves/2/exp_books/export")).status_code == 404


def test_the_document_gives_both_media_types_and_no_json():
    db = Database("sqlite+aiosqlite://")
    doc = app_with(db, books(db)).openapi()
    answer = doc["paths"]["/exp_books/export"]["get"]["responses"]["200"]
    assert set(answer["content"]) == {"application/x-ndjson", "text/csv"}
    names = [p["name"] for p in doc["paths"]["/exp_books/export"]["get"]["parameters"]]
    assert {"format", "sort", "fields", "pages__gte", "deleted"} <= set(names)
    assert "limit" not in names and "cursor" not in names


def test_max_export_rows_must_be_positive():
    db = Database("sqlite+aiosqlite://")
    with pytest.raises(ConfigurationError, match="max_export_rows"):
        books(db, max_export_rows=0)


@pytest.fixture
async def big(db_url: str, backend: str) -> AsyncIterator[tuple[Database, int]]:
    count = 100_000 if backend != "mariadb" else 20_000
    async with database_with(db_url, Base.metadata) as database:
        await seed(database, count)
        yield database, count


async def test_an_export_of_100000_rows_parses_back_to_the_paged_list(big, client_for):
    db, count = big
    router = books(db, max_export_rows=count)
    async with client_for(app_with(db, router)) as client:
        params = {"deleted": "include", "sort": "-pages"}
        listed = await paged(client, "/exp_books", params)
        assert len(listed) == count - count // 10
        lines = await client.get("/exp_books/export", params=params)
        assert [json.loads(line) for line in lines.text.splitlines()] == listed
        table = await client.get("/exp_books/export", params={**params, "format": "csv"})
        assert parse_csv(table.text) == [as_cells(item) for item in listed]
