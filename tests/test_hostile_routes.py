"""Hostile requests and mistaken options on the routes: unknown query parameters are refused on
every route, bulk upserts neither fail on a repeated key nor deadlock, relationship lists are
bounded, options of the wrong type raise when the router is built, and a ``scope`` or ``stamp``
that gives something unusable is a 500 that the log names once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from crudrouter_sqla import ConfigurationError, CRUDRouter
from crudrouter_sqla.core import Database
from tests.apps import app_with
from tests.relmodels import Base as RelBase
from tests.relmodels import Hero, HeroWithPowers, HeroWithPowersCreate, Tag, TagRead
from tests.shapemodels import Base, Item, ItemCreate, ItemRead, Setting, SettingRead
from tests.support.databases import database_with


@pytest.fixture
async def sdb(db_url: str) -> AsyncIterator[Database]:
    async with database_with(db_url, Base.metadata) as database:
        yield database


def items(db: Database, **options: Any) -> CRUDRouter:
    return CRUDRouter(
        Item,
        ItemRead,
        ItemCreate,
        session=db.session,
        filter_fields={"qty": ["gte"]},
        bulk_create_route=True,
        bulk_update_route=True,
        bulk_delete_route=True,
        **options,
    )


def settings(db: Database, **options: Any) -> CRUDRouter:
    return CRUDRouter(
        Setting,
        SettingRead,
        upsert=True,
        bulk_create_route=True,
        session=db.session,
        **options,
    )


# Unknown query parameters ---------------------------------------------------------------------

ROUTES = [
    ("GET", "/items/1", None),
    ("POST", "/items", {"name": "b", "qty": 1}),
    ("PUT", "/items/1", {"name": "c", "qty": 1}),
    ("PATCH", "/items/1", {"qty": 2}),
    ("DELETE", "/items/1", None),
    ("POST", "/items/bulk", [{"name": "d"}]),
    ("PATCH", "/items?qty__gte=0", {"qty": 3}),
    ("DELETE", "/items?qty__gte=100", None),
    ("GET", "/items", None),
]
ROUTE_IDS = [f"{method} {path.split('?')[0]}" for method, path, _ in ROUTES]


async def _send(client: Any, method: str, path: str, body: Any, extra: str) -> Any:
    joiner = "&" if "?" in path else "?"
    return await client.request(method, f"{path}{joiner}{extra}", json=body)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
async def test_every_route_refuses_an_unknown_query_parameter(sdb, client_for, method, path, body):
    async with client_for(app_with(sdb, items(sdb))) as client:
        assert (await client.post("/items", json={"name": "a"})).status_code == 201
        before = (await client.get("/items")).json()
        r = await _send(client, method, path, body, "on_conflict=ignore")
        assert r.status_code == 422, r.text
        error = r.json()["detail"][0]
        assert error["loc"] == ["query", "on_conflict"], error
        assert "unknown query parameter" in error["msg"]
        # Nothing was written.
        assert (await client.get("/items")).json() == before


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
async def test_ignored_query_params_let_named_ones_through(sdb, client_for, method, path, body):
    router = items(sdb, ignored_query_params=["_", "utm_source"])
    async with client_for(app_with(sdb, router)) as client:
        assert (await client.post("/items", json={"name": "a"})).status_code == 201
        r = await _send(client, method, path, body, "_=1700000000&utm_source=mail")
        assert r.status_code < 300, r.text
        r = await _send(client, method, path, body, "utm_medium=mail")
        assert r.status_code == 422, r.text


async def test_a_bulk_insert_without_upserts_refuses_on_conflict(sdb, client_for):
    async with client_for(app_with(sdb, items(sdb))) as client:
        rows = [{"name": "x"}]
        r = await client.post("/items/bulk", params={"on_conflict": "ignore"}, json=rows)
        assert r.status_code == 422, r.text
        assert (await client.get("/items")).json()["total"] == 0


async def test_strict_query_off_ignores_unknown_parameters(sdb, client_for):
    async with client_for(app_with(sdb, items(sdb, strict_query=False))) as client:
        assert (await client.post("/items?x=1", json={"name": "a"})).status_code == 201
        assert (await client.get("/items/1?x=1")).status_code == 200


# Bulk upserts ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["update", "ignore"])
async def test_a_bulk_upsert_that_names_a_key_twice_is_a_422(sdb, client_for, mode):
    async with client_for(app_with(sdb, settings(sdb))) as client:
        rows = [
            {"key": "a", "value": "1"},
            {"key": "b", "value": "2"},
            {"key": "a", "value": "3"},
        ]
        r = await client.post("/settings/bulk", params={"on_conflict": mode}, json=rows)
        assert r.status_code == 422, r.text
        error = r.json()["detail"][0]
        assert error["loc"] == ["body", 2], error
        assert "item 2 repeats the key of item 0" in error["msg"]
        assert (await client.get("/settings")).json()["total"] == 0


async def test_bulk_upserts_answer_in_the_order_sent(sdb, client_for):
    async with client_for(app_with(sdb, settings(sdb))) as client:
        rows = [{"key": k, "value": k.upper()} for k in ("m", "c", "x", "a")]
        r = await client.post("/settings/bulk", params={"on_conflict": "update"}, json=rows)
        assert r.status_code == 201, r.text
        assert [s["key"] for s in r.json()] == ["m", "c", "x", "a"]


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
async def test_concurrent_bulk_upserts_of_overlapping_keys_all_succeed(sdb, client_for):
    keys = [f"k{i:02d}" for i in range(40)]

    async def client_run(client: Any, n: int) -> list[int]:
        statuses = []
        for request in range(10):
            # Each client sends the keys in its own order, overlapping every other client's.
            order = keys[n:] + keys[:n] if request % 2 else list(reversed(keys))
            rows = [{"key": k, "value": f"{n}-{request}"} for k in order]
            r = await client.post("/settings/bulk", params={"on_conflict": "update"}, json=rows)
            statuses.append(r.status_code)
        return statuses

    async with client_for(app_with(sdb, settings(sdb))) as client:
        results = await asyncio.gather(*[client_run(client, n) for n in range(8)])
    codes = [code for statuses in results for code in statuses]
    assert codes == [201] * 80, codes
    async with sdb.open_session() as session:
        assert await session.scalar(select(func.count()).select_from(Setting)) == 40


# Relationship lists ---------------------------------------------------------------------------


@pytest.fixture
async def rdb(db_url: str) -> AsyncIterator[Database]:
    async with database_with(db_url, RelBase.metadata) as database:
        yield database


@pytest.mark.parametrize(
    ("field", "items"),
    [
        ("tags", [f"t{i}" for i in range(4)]),
        ("powers", [{"name": f"p{i}"} for i in range(4)]),
    ],
)
async def test_relationship_lists_are_bounded(rdb, client_for, field, items):
    heroes = CRUDRouter(
        Hero, HeroWithPowers, HeroWithPowersCreate, session=rdb.session, max_related=3
    )
    tags = CRUDRouter(Tag, TagRead, session=rdb.session)
    async with client_for(app_with(rdb, heroes, tags)) as client:
        for i in range(4):
            r = await client.post("/tags", json={"slug": f"t{i}", "label": f"T{i}"})
            assert r.status_code == 201, r.text
        r = await client.post("/heroes", json={"name": "Ann", field: items})
        assert r.status_code == 422, r.text
        error = r.json()["detail"][0]
        assert error["loc"] == ["body", field], error
        assert "at most 3 (max_related)" in error["msg"]
        assert (await client.get("/heroes")).json()["total"] == 0
        r = await client.post("/heroes", json={"name": "Ann", field: items[:3]})
        assert r.status_code == 201, r.text


# Options of the wrong type --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"soft_delete": ["deleted_at"]}, "soft_delete must be a column name"),
        ({"default_limit": "10"}, "default_limit must be an integer"),
        ({"max_limit": 10.5}, "max_limit must be an integer"),
        ({"filter_fields": {"name": "eq"}}, r"filter_fields\['name'\] must be a list"),
        ({"sort_fields": "name"}, "sort_fields must be a list of field names"),
        ({"search_fields": "name"}, "search_fields must be a list of field names"),
        ({"cursor_secret": ""}, "cursor_secret must be a non-empty"),
        ({"ignored_query_params": "_"}, "ignored_query_params must be a list of names"),
        ({"max_related": 0}, "max_related must be a positive integer"),
        ({"tenancy": "org_id"}, "tenancy must be a Tenancy"),
    ],
    ids=lambda value: value if isinstance(value, str) else next(iter(value)),
)
def test_options_of_the_wrong_type_raise_naming_the_option(options, message):
    with pytest.raises(ConfigurationError, match=message):
        CRUDRouter(Item, ItemRead, ItemCreate, **options)


# Scope and stamp that give something unusable --------------------------------------------------


def wrong_scope_kind() -> Any:
    return "owner = 'ann'"


def scope_over_another_table() -> Any:
    return Setting.key == "x"


def stamp_not_a_column() -> dict[str, Any]:
    return {"owner": "ann"}


@pytest.mark.parametrize(
    ("options", "logged"),
    [
        ({"scope": wrong_scope_kind}, "scope returned str, not a SQLAlchemy clause"),
        ({"scope": scope_over_another_table}, "scope compares columns of settings"),
        ({"stamp": stamp_not_a_column}, "stamp returned names that are not columns: owner"),
    ],
    ids=["scope-not-a-clause", "scope-other-table", "stamp-not-a-column"],
)
async def test_a_dependency_that_gives_something_unusable_is_logged_once(
    sdb, client_for, caplog, options, logged
):
    caplog.set_level(logging.ERROR, logger="crudrouter_sqla")
    async with client_for(app_with(sdb, items(sdb, **options))) as client:
        for _ in range(3):
            if "scope" in options:
                r = await client.get("/items")
            else:
                r = await client.post("/items", json={"name": "a"})
            assert r.status_code == 500, r.text
            assert r.json() == {"detail": "Internal Server Error"}
            assert logged not in r.text
    lines = [record.getMessage() for record in caplog.records if logged in record.getMessage()]
    assert len(lines) == 1, caplog.records
    assert "Item" in lines[0]
    assert await _count(sdb) == 0


async def _count(db: Database) -> int:
    async with db.open_session() as session:
        return int(await session.scalar(select(func.count()).select_from(Item)) or 0)
