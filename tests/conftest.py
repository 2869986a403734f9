"""Fixtures: one fresh database per test, on SQLite, a throwaway PostgreSQL server and a
throwaway MariaDB server; PgBouncer and a streaming replica in front of and beside PostgreSQL.

Under pytest-xdist (``./scripts/test`` runs a worker per core, at most four) each worker starts
servers of its own."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from crudrouter_sqla.core import Database
from tests.models import Base
from tests.support.databases import database_with
from tests.support.mariadb import MariaDBServer, find_mariadb
from tests.support.pg import PostgresServer, find_pg_bindir
from tests.support.pgbouncer import PgBouncer, find_pgbouncer

pytest_plugins = ["crudrouter_sqla.testing"]
"""The fixtures users get (``database``, ``client``); the example tests use them too."""

_pg_status: list[str] = []
_mariadb_status: list[str] = []
_counter = itertools.count()


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer | None]:
    """A PostgreSQL server for the whole run, or None where no server binaries are installed."""
    if os.environ.get("CRUDROUTER_SKIP_POSTGRES") == "1":
        _pg_status.append("skipped: CRUDROUTER_SKIP_POSTGRES=1")
        yield None
        return
    bindir = find_pg_bindir()
    if bindir is None:
        if _running_in_ci():
            pytest.fail("CI must run PostgreSQL, but no server binaries were found")
        _pg_status.append("SKIPPED: no PostgreSQL server binaries (apt-get install postgresql)")
        yield None
        return
    server = PostgresServer(bindir)
    server.start()
    _pg_status.append(f"ran against PostgreSQL {server.version} on 127.0.0.1:{server.port}")
    try:
        yield server
    finally:
        server.cleanup()


def _missing(what: str, install: str) -> None:
    """Skip a test whose server is not installed; in CI, fail it."""
    if _running_in_ci():
        pytest.fail(f"CI must run {what}, but it is not installed ({install})")
    pytest.skip(f"{what} is not installed ({install})")


@pytest.fixture(scope="session")
def pg_replica(pg_server: PostgresServer | None) -> Iterator[PostgresServer]:
    """A streaming replica of ``pg_server`` (``pg_basebackup -R``) on its own port."""
    if pg_server is None:
        pytest.skip("PostgreSQL is not available")
    replica = pg_server.start_replica()
    try:
        yield replica
    finally:
        replica.cleanup()


@pytest.fixture(scope="session")
def pgbouncer(pg_server: PostgresServer | None) -> Iterator[PgBouncer]:
    """PgBouncer in transaction pooling mode in front of ``pg_server``."""
    if pg_server is None:
        pytest.skip("PostgreSQL is not available")
    binary = find_pgbouncer()
    if binary is None:
        _missing("PgBouncer", "apt-get install pgbouncer")
    assert binary is not None
    bouncer = PgBouncer(pg_server, binary)
    bouncer.start()
    try:
        yield bouncer
    finally:
        bouncer.cleanup()


_emptied_pg: dict[int, list[str]] = {}
"""Databases a finished test left, emptied again, by server port: `CREATE DATABASE` copies
7 MB and takes a tenth of a second, and a run would otherwise leave gigabytes behind."""

_RESET_PUBLIC = (
    "CREATE SCHEMA public AUTHORIZATION pg_database_owner",
    "GRANT USAGE ON SCHEMA public TO PUBLIC",
)


async def new_pg_database(server: PostgresServer) -> str:
    """An empty database on ``server`` (one a finished test left, emptied, or a new one);
    return its name."""
    emptied = _emptied_pg.get(server.port)
    if emptied:
        return emptied.pop()
    name = f"t{os.getpid()}_{next(_counter)}"
    conn = await asyncpg.connect(host="127.0.0.1", port=server.port, user="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _empty_pg_database(server: PostgresServer, name: str) -> None:
    """Drop everything a test made in ``name`` (its connections, schemas, tables, types,
    sequences) and keep it for the next test; a database that cannot be emptied is left."""

    async def empty() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=server.port, user="postgres", database=name
        )
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            schemas = await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
                " AND nspname <> 'information_schema'"
            )
            for row in schemas:
                await conn.execute(f'DROP SCHEMA "{row[0]}" CASCADE')
            for statement in _RESET_PUBLIC:
                await conn.execute(statement)
        finally:
            await conn.close()

    try:
        await asyncio.wait_for(empty(), timeout=10)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return
    _emptied_pg.setdefault(server.port, []).append(name)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer | None]:
    """A MariaDB server for the whole run, or None where no server binaries are installed."""
    if os.environ.get("CRUDROUTER_SKIP_MARIADB") == "1":
        _mariadb_status.append("skipped: CRUDROUTER_SKIP_MARIADB=1")
        yield None
        return
    binaries = find_mariadb()
    if binaries is None:
        if _running_in_ci():
            pytest.fail("CI must run MariaDB, but no server binaries were found")
        _mariadb_status.append(
            "SKIPPED: no MariaDB server binaries (apt-get install mariadb-server)"
        )
        yield None
        return
    server = MariaDBServer(binaries)
    server.start()
    _mariadb_status.append(f"ran against MariaDB {server.version} on 127.0.0.1:{server.port}")
    try:
        yield server
    finally:
        server.cleanup()


async def new_mariadb_database(server: MariaDBServer) -> str:
    """Create an empty database on ``server``; return its name."""
    import aiomysql

    name = f"t{os.getpid()}_{next(_counter)}"
    conn = await aiomysql.connect(host="127.0.0.1", port=server.port, user="root")
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE `{name}`")
    finally:
        conn.close()
    return name


def pytest_sessionfinish(session: pytest.Session) -> None:
    # A pytest-xdist worker hands what its servers ran to the controlling process.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["server_status"] = {"pg": _pg_status, "mariadb": _mariadb_status}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    status = getattr(node, "workeroutput", {}).get("server_status", {})
    _pg_status.extend(status.get("pg", []))
    _mariadb_status.extend(status.get("mariadb", []))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in sorted(set(_pg_status)) or ["not used by the selected tests"]:
        terminalreporter.write_line(f"PostgreSQL run: {line}", bold=True)
    for line in sorted(set(_mariadb_status)) or ["not used by the selected tests"]:
        terminalreporter.write_line(f"MariaDB run: {line}", bold=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that need PostgreSQL's or SQLite's own features do not run on MariaDB.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("backend") != "mariadb":
            continue
        marker = item.get_closest_marker("not_mariadb")
        if marker is not None:
            reason = marker.args[0] if marker.args else "needs PostgreSQL or SQLite"
            item.add_marker(pytest.mark.skip(reason=f"not on MariaDB: {reason}"))


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The URL the testing plugin's ``database`` fixture makes databases at: None (in-memory
    SQLite) or the throwaway PostgreSQL server."""
    if backend == "sqlite":
        return None
    server: PostgresServer | None = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("PostgreSQL is not available")
    return server.url("postgres")


@pytest.fixture
async def db_url(backend: str, tmp_path: Any, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The URL of a new, empty database."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    if backend == "mariadb":
        maria: MariaDBServer | None = request.getfixturevalue("mariadb_server")
        if maria is None:
            pytest.skip("MariaDB is not available")
        yield maria.url(await new_mariadb_database(maria))
        return
    server: PostgresServer | None = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("PostgreSQL is not available")
    name = await new_pg_database(server)
    yield server.url(name)
    await _empty_pg_database(server, name)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A `Database` with the test tables created; disposed afterwards."""
    async with database_with(db_url, Base.metadata) as database:
        yield database


@pytest.fixture
def client_for() -> Callable[[FastAPI], Any]:
    """Open an httpx client on an app, inside its lifespan."""

    @asynccontextmanager
    async def open_client(app: FastAPI, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app, **kwargs)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client

    return open_client
