"""Input that must not reach a 500 or a leak: bodies nested thousands of levels deep, secrets in
the query string of a database URL, every pool class SQLAlchemy offers, and core options of the
wrong type."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, String
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import (
    AssertionPool,
    AsyncAdaptedQueuePool,
    NullPool,
    QueuePool,
    SingletonThreadPool,
    StaticPool,
)

from crudrouter_sqla import CRUDRouter
from crudrouter_sqla._routes._limits import (
    DEFAULT_MAX_BODY_DEPTH,
    MAX_BODY_DEPTH,
    limited_route_class,
    nested_deeper_than,
    parse_json_body,
)
from crudrouter_sqla.core import Database, DatabaseConnectionError
from crudrouter_sqla.core._urls import is_secret, redact_secrets, redacted_url
from crudrouter_sqla.errors import ConfigurationError
from tests.support.databases import database_with
from tests.support.pg import PostgresServer


class Base(DeclarativeBase):
    pass


class Note(Base):
    """A row with a JSON column, so that a deep body can also be a valid one."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    data: Mapped[Any] = mapped_column(JSON, nullable=True)


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    data: Any = None


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def notes_db(db_url: str) -> AsyncIterator[Database]:
    async with database_with(db_url, Base.metadata) as database:
        yield database


def notes_app(db: Database) -> FastAPI:
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Note, NoteRead, session=db.session))
    return app


def nested(depth: int, kind: str) -> str:
    """A JSON text whose arrays or objects nest ``depth`` levels."""
    if kind == "object":
        return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)
    return "[" * depth + "]" * depth


def never_connect() -> Any:
    """The creator of a pool that a test builds but never connects."""
    raise AssertionError("this pool must not connect")


WRITES = [("POST", "/notes"), ("PUT", "/notes/1"), ("PATCH", "/notes/1")]
TOO_DEEP = {
    "detail": [
        {
            "type": "json_too_deep",
            "loc": ["body"],
            "msg": f"The body is nested deeper than {DEFAULT_MAX_BODY_DEPTH} levels",
            "input": None,
        }
    ]
}

# --- bodies nested deeper than the limit -------------------------------------------------------


@pytest.mark.parametrize("depth", [500, 5000])
@pytest.mark.parametrize(
    "shape",
    ["array", "object", "in-a-json-field", "in-a-string-field", "unterminated"],
)
async def test_deeply_nested_bodies_are_a_422_on_every_write_route(
    notes_db, client_for, depth, shape
):
    body = {
        "array": nested(depth, "array"),
        "object": nested(depth, "object"),
        "in-a-json-field": f'{{"title": "deep", "data": {nested(depth, "object")}}}',
        "in-a-string-field": f'{{"title": {nested(depth, "array")}}}',
        "unterminated": '{"title": "deep", "data": ' + "[" * depth,
    }[shape]
    assert len(body) < 64 * 1024  # far under max_body_size: the depth alone is refused
    async with client_for(notes_app(notes_db), raise_app_exceptions=False) as client:
        r = await client.post("/notes", json={"title": "first"})
        assert r.status_code == 201, r.text
        for method, path in WRITES:
            r = await client.request(
                method, path, content=body, headers={"content-type": "application/json"}
            )
            assert r.status_code == 422, (method, r.status_code, r.text[:300])
            assert r.json() == TOO_DEEP, (method, r.text[:300])
        r = await client.get("/notes/1")
        assert r.json()["title"] == "first", r.text


async def test_a_body_at_the_depth_limit_is_written_and_one_level_more_is_refused(
    notes_db, client_for
):
    # The body's own object is level 1, so ``data`` may nest one level less than the limit.
    data = json.loads(nested(DEFAULT_MAX_BODY_DEPTH - 1, "object"))
    async with client_for(notes_app(notes_db)) as client:
        r = await client.post("/notes", json={"title": "at the limit", "data": data})
        assert r.status_code == 201, r.text
        assert r.json()["data"] == data
        for method, path in WRITES[1:]:
            r = await client.request(method, path, json={"title": "again", "data": data})
            assert r.status_code == 200, (method, r.text)
        deeper = {"title": "one more", "data": [data]}
        for method, path in WRITES:
            r = await client.request(method, path, json=deeper)
            assert r.status_code == 422, (method, r.text)
            assert r.json() == TOO_DEEP


async def test_brackets_inside_strings_do_not_count(notes_db, client_for):
    text = '[{"\\"[' * 2000  # brackets, quotes and escapes, all inside one string
    async with client_for(notes_app(notes_db)) as client:
        r = await client.post("/notes", json={"title": "text", "data": {"note": text}})
        assert r.status_code == 201, r.text
        assert r.json()["data"] == {"note": text}


@pytest.mark.parametrize(
    ("text", "deeper"),
    [
        ("[" * 32 + "]" * 32, False),
        ("[" * 33 + "]" * 33, True),
        ('{"a": [' + "1," * 100 + "1]}", False),
        ("[" + "[]," * 1000 + "[]]", False),
        ('"' + "[" * 100 + '"', False),
        ('["\\"' + "[" * 100 + '"]', False),  # an escaped quote does not end the string
        ('["\\\\"' + ", [" * 40 + "]" * 40 + "]", True),  # an escaped backslash does
        ("[" * 33, True),  # unterminated: the parser would recurse just as deep
        ("]" * 100 + "[" * 20, False),  # the parser stops at the first character
        ('"' + "[" * 100, False),  # an unterminated string runs to the end
    ],
    ids=[
        "at-limit",
        "over-limit",
        "flat-array",
        "many-siblings",
        "in-a-string",
        "escaped-quote",
        "escaped-backslash",
        "unterminated",
        "closes-first",
        "unterminated-string",
    ],
)
def test_the_depth_scan_counts_only_structure(text, deeper):
    assert nested_deeper_than(text, 32) is deeper


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-16-be"])
def test_the_depth_is_counted_in_the_encoding_the_parser_reads(encoding):
    # JSON may come as UTF-16 or UTF-32, whose bytes hold brackets the scan must see as such.
    with pytest.raises(RequestValidationError) as caught:
        parse_json_body(nested(5000, "array").encode(encoding))
    assert caught.value.errors()[0]["type"] == "json_too_deep"
    assert parse_json_body('{"a": [["[[[["]]}'.encode(encoding)) == {"a": [["[[[["]]}


async def test_a_route_class_with_its_own_depth_limit(client_for):
    router = APIRouter(route_class=limited_route_class(1024, max_body_depth=3))

    @router.post("/echo")
    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    app = FastAPI()
    app.include_router(router)
    async with client_for(app) as client:
        r = await client.post("/echo", json={"a": {"b": [1]}})
        assert r.status_code == 200, r.text
        r = await client.post("/echo", json={"a": {"b": [[1]]}})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["msg"] == "The body is nested deeper than 3 levels"


@pytest.mark.parametrize("depth", [0, -1, True, "32", 32.0, MAX_BODY_DEPTH + 1])
def test_max_body_depth_is_checked_when_the_route_class_is_built(depth):
    with pytest.raises(ConfigurationError, match="max_body_depth"):
        limited_route_class(1024, max_body_depth=depth)


def test_the_default_depth_limit():
    assert DEFAULT_MAX_BODY_DEPTH == 32
    assert getattr(limited_route_class(1024), "max_body_depth") == 32  # noqa: B009
    assert getattr(limited_route_class(1024, MAX_BODY_DEPTH), "max_body_depth") == 128  # noqa: B009


# --- every pool class ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "poolclass",
    [AsyncAdaptedQueuePool, NullPool, StaticPool, AssertionPool],
    ids=lambda c: c.__name__,
)
async def test_every_pool_class_the_driver_allows_serves_requests(db_url, client_for, poolclass):
    db = Database(db_url, poolclass=poolclass)
    assert type(db.engine.pool) is poolclass
    await db.create_all(Base.metadata)
    try:
        async with client_for(notes_app(db)) as client:
            r = await client.post("/notes", json={"title": "pooled"})
            assert r.status_code == 201, r.text
            r = await client.patch("/notes/1", json={"data": {"ok": True}})
            assert r.status_code == 200, r.text
            r = await client.get("/notes")
            assert r.json()["items"] == [{"id": 1, "title": "pooled", "data": {"ok": True}}]
            r = await client.delete("/notes/1")
            assert r.status_code == 204, r.text
    finally:
        await db.dispose()


def test_pool_defaults_go_only_to_pools_that_take_them(db_url, backend):
    queue: Any = Database(db_url, poolclass=AsyncAdaptedQueuePool).engine.pool
    assert (queue.size(), queue._max_overflow) == (15, 0)
    assert queue.timeout() == (30 if backend == "sqlite" else 5)  # SQLite: SQLAlchemy's own
    timed: Any = Database(db_url, pool_timeout=2).engine.pool
    assert timed.timeout() == 2
    # A pool of one's own, made beforehand, takes no pool options at all.
    ready = NullPool(never_connect)
    assert Database(db_url, pool=ready).engine.pool is ready


@pytest.mark.parametrize("poolclass", [QueuePool, SingletonThreadPool], ids=lambda c: c.__name__)
def test_pools_of_synchronous_engines_are_refused_as_sqlalchemy_refuses_them(tmp_path, poolclass):
    for url in (
        f"sqlite+aiosqlite:///{tmp_path / 'sync.db'}",
        "postgresql+asyncpg://app@127.0.0.1/app",
    ):
        with pytest.raises(ArgumentError, match="cannot be used with asyncio engine"):
            create_async_engine(url, poolclass=poolclass)
        with pytest.raises(ArgumentError, match="cannot be used with asyncio engine"):
            Database(url, poolclass=poolclass)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("pool_size", "10"),
        ("pool_size", -1),
        ("pool_size", True),
        ("max_overflow", 2.5),
        ("max_overflow", -2),
        ("pool_timeout", "5"),
        ("pool_timeout", -1),
        ("pool_recycle", None),
        ("poolclass", NullPool(never_connect)),
        ("poolclass", "NullPool"),
        ("pool", NullPool),
        ("replica_urls", "postgresql://app:hunter2@replica/app"),
    ],
    ids=[
        "pool_size-str",
        "pool_size-negative",
        "pool_size-bool",
        "max_overflow-float",
        "max_overflow-below-minus-one",
        "pool_timeout-str",
        "pool_timeout-negative",
        "pool_recycle-none",
        "poolclass-instance",
        "poolclass-str",
        "pool-class",
        "replica_urls-one-url",
    ],
)
def test_core_options_of_the_wrong_kind_are_an_error_naming_the_option(option, value):
    with pytest.raises(ValueError, match=rf"^{option} must be") as caught:
        Database("postgresql+asyncpg://app@127.0.0.1/app", **{option: value})
    assert "hunter2" not in str(caught.value)


# --- secrets in the URL --------------------------------------------------------------------

SECRET = "hunter2-Sw0rdf1sh"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (
            f"postgresql+asyncpg://app@db.example/app?password={SECRET}&application_name=api",
            "postgresql+asyncpg://app@db.example/app?application_name=api&password=***",
        ),
        (
            f"postgres://app:{SECRET}@db.example/app?sslpassword={SECRET}&sslkey=/etc/app.key",
            "postgresql+asyncpg://app:***@db.example/app?sslkey=%2Fetc%2Fapp.key&sslpassword=***",
        ),
        (
            f"mysql://app@db.example/app?passwd={SECRET}&pwd={SECRET}&PASSWORD={SECRET}&ssl=true",
            "mysql+aiomysql://app@db.example/app?PASSWORD=***&passwd=***&pwd=***&ssl=true",
        ),
        (
            # Query parameters other than the driver's reach SQLite only in a URI filename.
            f"sqlite+aiosqlite:///file:./app.db?password={SECRET}&uri=true",
            "sqlite+aiosqlite:///file%3A./app.db?password=***&uri=true",
        ),
    ],
    ids=["postgresql-query", "postgresql-both", "mysql-spellings", "sqlite"],
)
def test_secrets_in_the_query_string_are_never_shown(given, shown):
    db = Database(given)
    assert db.safe_url == shown
    assert repr(db) == f"Database({shown!r})"
    for dependency in (db.session, db.primary_session):
        assert dependency.__doc__ is not None
        assert shown in dependency.__doc__
    assert SECRET not in db.safe_url + repr(db) + str(db.session.__doc__)
    assert SECRET in db.url.render_as_string(hide_password=False)  # still used to connect


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("sslpassword", True),
        ("ssl_key_password", True),
        ("Passwd", True),
        ("pwd", True),
        ("pass", True),
        ("client_secret", True),
        ("auth-token", True),
        ("api_key", True),
        ("passphrase", True),
        ("sslkey", False),
        ("sslcert", False),
        ("sslmode", False),
        ("application_name", False),
        ("passive", False),
    ],
)
def test_which_query_parameters_are_secrets(name, secret):
    assert is_secret(name) is secret


def test_secrets_are_cut_out_of_driver_messages():
    url = make_url(f"postgresql+asyncpg://app:p%40ss@db/app?sslpassword={SECRET}")
    message = f"bad key passphrase {SECRET} for p@ss (p%40ss)"
    assert redact_secrets(message, url) == "bad key passphrase *** for *** (***)"
    assert redacted_url(url) == "postgresql+asyncpg://app:***@db/app?sslpassword=***"


async def test_the_start_up_error_hides_secrets_in_the_query_on_sqlite(tmp_path):
    url = f"sqlite+aiosqlite:///file:{tmp_path / 'missing' / 'app.db'}?password={SECRET}&uri=true"
    db = Database(url)
    with pytest.raises(DatabaseConnectionError) as caught:
        async with db.lifespan(FastAPI()):
            pass
    message = str(caught.value)
    assert SECRET not in message, message
    assert message.startswith("cannot connect to the database at sqlite+aiosqlite:///"), message
    assert "password=***&uri=true:" in message, message


async def test_the_start_up_error_hides_secrets_in_the_query_on_postgresql(
    pg_server: PostgresServer | None,
):
    if pg_server is None:
        pytest.skip("PostgreSQL is not available")
    missing = pg_server.url("no_such_database")
    db = Database(f"{missing}?password={SECRET}&ssl=disable")
    with pytest.raises(DatabaseConnectionError) as caught:
        async with db.lifespan(FastAPI()):
            pass
    message = str(caught.value)
    assert SECRET not in message, message
    assert "/no_such_database?password=***&ssl=disable:" in message, message
