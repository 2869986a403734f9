"""No error response leaks stored data, SQL or the driver: on SQLite and on PostgreSQL.

A row holds a sentinel secret. Then every error path we can reach is provoked, most of them on
that very row, where the driver's own message would carry it (PostgreSQL's check and not-null
violations say "Failing row contains (..., SENTINEL-7f3a, ...)"). No response body or header
may contain the sentinel, an SQL keyword, a driver's name or a traceback, and none is a 5xx
except the 503 asked for.
"""

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import BaseModel

from crudrouter_sqla import CRUDRouter
from crudrouter_sqla.core import Database
from tests.apps import heroes_app, seed_hero, seed_team
from tests.models import Hero, HeroRead

SENTINEL = "SENTINEL-7f3a"
SQL_KEYWORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES|RETURNING|FROM)\b")
DRIVER_WORDS = re.compile(
    r"asyncpg|sqlite3|psycopg|aiosqlite|sqlalchemy|traceback|failing row|violates|"
    r"constraint failed|\$\d|heroes\.\w+",
    re.I,
)
SQL_KEYWORDS = re.compile(SQL_KEYWORDS.pattern + r"|\bDETAIL:")


class LooseCreate(BaseModel):
    """No length or null checks: the database is the one to refuse."""

    name: str | None = None
    secret_name: str | None = None
    age: int | None = None
    team_id: int | None = None


def leaks_app(db: Database) -> Any:
    app = heroes_app(
        db,
        filter_fields=["name", "age", "team_id", "secret_name"],
        search_fields=["name", "secret_name"],
    )
    app.include_router(CRUDRouter(Hero, HeroRead, LooseCreate, prefix="/loose", session=db.session))
    return app


def assert_no_leak(r: httpx.Response, what: str) -> None:
    text = r.text
    headers = "\n".join(f"{k}: {v}" for k, v in r.headers.items())
    for where, content in (("body", text), ("headers", headers)):
        assert SENTINEL not in content, f"{what}: the sentinel leaked in the {where}: {content}"
        match = SQL_KEYWORDS.search(content) or DRIVER_WORDS.search(content)
        assert match is None, f"{what}: {match.group(0)!r} in the {where}: {content}"


@pytest.fixture
async def client(db: Database, client_for: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(leaks_app(db), raise_app_exceptions=False) as client:
        yield client


async def sentinel_rows(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any], int]:
    team_id = await seed_team(client)
    secret = await seed_hero(client, "Sentinel", secret_name=SENTINEL, age=30, team_id=team_id)
    other = await seed_hero(client, "Bystander", secret_name="nothing here")
    # The secret is stored and readable where it should be.
    assert (await client.get(f"/heroes/{secret['id']}")).json()["secret_name"] == SENTINEL
    return secret, other, team_id


def case(what: str, method: str, url: str, expected: set[int], **kwargs: Any) -> Any:
    return (what, method, url, kwargs, expected)


def error_requests(secret: dict[str, Any], other: dict[str, Any], team_id: int) -> list[Any]:
    """(what, method, url, keyword arguments, the statuses it may get)."""
    sid, oid = f"/heroes/{secret['id']}", f"/heroes/{other['id']}"
    loose = f"/loose/{secret['id']}"
    json = {"content-type": "application/json"}
    long = "x" * 150
    huge = b"[" + b"1," * 700_000 + b"1]"
    forged = "AAAAAAAAAAAAAAAAAAAAAFsiaGVyb2VzIiwiIixbMV1d"
    missing = "/heroes/987654"
    return [
        # 409: unique, foreign key, check, not null; on the sentinel row where possible.
        case(
            "unique, create",
            "POST",
            "/heroes",
            {409},
            json={"name": "Sentinel", "secret_name": "x"},
        ),
        case("unique, patch", "PATCH", oid, {409}, json={"name": "Sentinel"}),
        case("unique, put", "PUT", oid, {409}, json={"name": "Sentinel", "secret_name": "y"}),
        case("unique, sentinel row", "PATCH", sid, {409}, json={"name": "Bystander"}),
        case(
            "fk, create",
            "POST",
            "/heroes",
            {409},
            json={"name": "N", "secret_name": "x", "team_id": 999},
        ),
        case("fk, sentinel row", "PATCH", sid, {409}, json={"team_id": 999}),
        case("fk, delete", "DELETE", f"/teams/{team_id}", {409}),
        case("check, sentinel row", "PATCH", sid, {409}, json={"age": -1}),
        case(
            "check, put",
            "PUT",
            sid,
            {409},
            json={"name": "Sentinel", "secret_name": "s", "age": -5},
        ),
        case("not null, sentinel row", "PATCH", loose, {409}, json={"name": None}),
        case("not null, create", "POST", "/loose", {409}, json={"name": "Z", "secret_name": None}),
        # 404
        case("get missing", "GET", missing, {404}),
        case("patch missing", "PATCH", missing, {404}, json={"age": 1}),
        case("put missing", "PUT", missing, {404}, json={"name": "Q", "secret_name": "q"}),
        case("delete missing", "DELETE", missing, {404}),
        case("no such path", "GET", "/villains", {404}),
        # 422 in the body
        case("body not json", "POST", "/heroes", {422}, content=b"{name", headers=json),
        case("body wrong type", "PATCH", sid, {422}, json={"age": "old"}),
        case("body missing field", "POST", "/heroes", {422}, json={"name": "M"}),
        case("body too long", "PATCH", sid, {422}, json={"name": long}),
        case("body is a list", "PUT", sid, {422}, json=[1, 2]),
        case("body key mismatch", "PUT", "/tags/a", {404, 422}, json={"code": "b", "label": "l"}),
        # 422 in the path
        case("path not an int", "GET", "/heroes/abc", {422}),
        case("path out of range", "GET", f"/heroes/{2**80}", {422}),
        case("path bad uuid", "GET", "/gadgets/not-a-uuid", {422}),
        # 422 in the query: paging, filters, sort, fields, count, cursor
        case("limit zero", "GET", "/heroes", {422}, params={"limit": 0}),
        case("limit huge", "GET", "/heroes", {422}, params={"limit": 10**9}),
        case("offset negative", "GET", "/heroes", {422}, params={"offset": -1}),
        case("unknown parameter", "GET", "/heroes", {422}, params={"secret": "x"}),
        case("filter wrong type", "GET", "/heroes", {422}, params={"age__gte": "old"}),
        case("filter out of range", "GET", "/heroes", {422}, params={"age__lt": 2**70}),
        case("filter in, bad item", "GET", "/heroes", {422}, params={"age__in": "1,x"}),
        case("filter in, too many", "GET", "/heroes", {422}, params={"team_id__in": "1," * 101}),
        case("filter too long", "GET", "/heroes", {422}, params={"secret_name__ilike": "s" * 500}),
        case("unknown filter op", "GET", "/heroes", {422}, params={"name__regex": "x"}),
        case("sort unknown", "GET", "/heroes", {422}, params={"sort": "-power"}),
        case("sort given twice", "GET", "/heroes", {422}, params=[("sort", "age"), ("sort", "id")]),
        case("fields unknown", "GET", "/heroes", {422}, params={"fields": "id,password"}),
        case("count unknown", "GET", "/heroes", {422}, params={"count": "lots"}),
        case("cursor garbage", "GET", "/heroes", {404}, params={"cursor": "not-a-cursor"}),
        case("cursor forged", "GET", "/heroes", {404}, params={"cursor": forged}),
        case("cursor and offset", "GET", "/heroes", {404}, params={"cursor": "x", "offset": 1}),
        # 422 from the database: values the column cannot hold. Last, as SQLite stores some.
        case("too long, sentinel row", "PATCH", loose, {200, 422}, json={"name": long}),
        case("out of range, sentinel row", "PATCH", loose, {200, 422}, json={"age": 2**40}),
        case("far out of range", "PATCH", loose, {422}, json={"age": 2**70}),
        case("NUL, sentinel row", "PATCH", loose, {200, 422}, json={"name": "a\x00b"}),
        case("NUL in a filter", "GET", "/heroes", {200, 422}, params={"name": "a\x00b"}),
        case("NUL in a search", "GET", "/heroes", {200, 422}, params={"q": "a\x00b"}),
        # Other HTTP errors
        case("method not allowed", "PATCH", "/heroes", {405}, json={}),
        case("body not utf-8", "POST", "/heroes", {400, 422}, content=b"\xff\xfe", headers=json),
        case("body too large", "POST", "/heroes", {413}, content=huge, headers=json),
    ]


async def test_no_error_response_leaks(db, client):
    secret, other, team_id = await sentinel_rows(client)
    r = await client.get("/heroes", params={"secret_name": SENTINEL, "limit": 1})
    assert r.json()["next_cursor"] is None
    seen: set[int] = set()
    for what, method, url, kwargs, expected in error_requests(secret, other, team_id):
        r = await client.request(method, url, **kwargs)
        assert r.status_code in expected, f"{what}: {r.status_code} {r.text}"
        seen.add(r.status_code)
        if r.status_code < 400:
            continue  # SQLite stored the value: a success, which shows the row as it should
        assert_no_leak(r, what)
        assert isinstance(r.json()["detail"], str | list), f"{what}: {r.text}"
    assert {404, 409, 422}.issubset(seen), seen
    # A cursor made for another sort is refused without echoing what it holds.
    page = (await client.get("/heroes", params={"limit": 1, "sort": "secret_name"})).json()
    r = await client.get("/heroes", params={"cursor": page["next_cursor"], "sort": "name"})
    assert r.status_code == 404, r.text
    assert_no_leak(r, "cursor for another sort")
    # The sentinel row is untouched by every refused write.
    r = await client.get(f"/heroes/{secret['id']}")
    assert r.json()["secret_name"] == SENTINEL


async def mariadb_connect(db_url: str) -> Any:
    import aiomysql
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    return await aiomysql.connect(host=url.host, port=url.port, user=url.username, db=url.database)


async def test_unavailable_database_does_not_leak(db, db_url, backend, client):
    """503: a write that waits on a lock another connection holds, past the time allowed."""
    secret, _, _ = await sentinel_rows(client)
    if backend == "sqlite":
        impatient = Database(db_url, connect_args={"timeout": 0.2})
        path = db_url.split("///", 1)[1]
        holder: Any = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
    elif backend == "mariadb":
        impatient = Database(db_url, statement_timeout=0.3)
        holder = await mariadb_connect(db_url)
        async with holder.cursor() as cursor:
            await cursor.execute("LOCK TABLES heroes WRITE")
    else:
        impatient = Database(db_url, statement_timeout=0.3)
        holder = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
        await holder.execute("BEGIN")
        await holder.execute("LOCK TABLE heroes IN ACCESS EXCLUSIVE MODE")
    # No lifespan: the tables exist, and its start-up check is not what is being tested.
    transport = httpx.ASGITransport(app=leaks_app(impatient), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test"
        ) as impatient_client:
            requests = [
                impatient_client.patch(f"/heroes/{secret['id']}", json={"age": -1}),
                impatient_client.get(f"/heroes/{secret['id']}"),
                impatient_client.get("/heroes", params={"q": "SENT"}),
            ]
            for r in await asyncio.gather(*requests):
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"].isdigit()
                assert_no_leak(r, "503")
    finally:
        if backend == "sqlite":
            holder.execute("ROLLBACK")
            holder.close()
        elif backend == "mariadb":
            holder.close()
        else:
            await holder.close()
        await impatient.engine.dispose()


async def test_a_lone_surrogate_in_a_body_is_422_not_500(db, client_for):
    async with client_for(leaks_app(db), raise_app_exceptions=False) as client:
        body = '{"name": "Bat\\ud800", "secret_name": "x"}'  # valid JSON, not valid Unicode
        r = await client.post("/heroes", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


async def test_nul_in_a_text_filter_is_422_naming_the_parameter(db, client_for):
    async with client_for(leaks_app(db), raise_app_exceptions=False) as client:
        for name in ("name", "q"):
            r = await client.get("/heroes", params={name: "a\x00b"})
            assert r.status_code == 422, r.text
            assert r.json()["detail"][0]["loc"] == ["query", name], r.text
