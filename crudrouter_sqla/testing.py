"""Test your own app: a fresh database per test, the app's lifespan around an httpx client, and
the session dependency pointed at the test database.

Two layers, usable apart:

- plain async context managers, `fresh_database` and `app_client`, for any test runner;
- a pytest plugin (fixtures ``database_url``, ``database_metadata``, ``database`` and
  ``client``), enabled with ``pytest_plugins = ["crudrouter_sqla.testing"]`` in your top-level
  ``conftest.py``. It needs pytest-asyncio; ``client`` needs an ``app`` fixture of your own.

``pip install 'crudrouter-sqla[testing]'`` installs what this module uses (httpx, asgi-lifespan,
pytest, pytest-asyncio).

Example:
    ```python
    import asyncio

    from fastapi import FastAPI
    from pydantic import BaseModel
    from sqlalchemy import String
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from crudrouter_sqla import CRUDRouter
    from crudrouter_sqla.core import Session, lifespan
    from crudrouter_sqla.testing import app_client, fresh_database

    class Base(DeclarativeBase):
        pass

    class Hero(Base):
        __tablename__ = "heroes"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(100))

    class HeroRead(BaseModel):
        id: int
        name: str

    app = FastAPI(lifespan=lifespan)
    app.include_router(CRUDRouter(Hero, HeroRead))

    async def main() -> None:
        async with fresh_database(metadata=Base.metadata) as db:
            async with app_client(app, db) as client:
                r = await client.post("/heroes", json={"name": "Batman"})
                assert r.status_code == 201, r.text
            async with db.open_session() as session:
                assert (await session.get(Hero, r.json()["id"])).name == "Batman"

    asyncio.run(main())
    ```
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from sqlalchemy import MetaData, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from .core import Database, default_session
from .core._database import async_url

if TYPE_CHECKING:
    import httpx

__all__ = ["TEST_DATABASE_URL_VARIABLE", "app_client", "fresh_database"]
"""The helpers; the pytest fixtures are found by pytest through ``pytest_plugins``."""

TEST_DATABASE_URL_VARIABLE = "CRUDROUTER_TEST_DATABASE_URL"
"""The environment variable the ``database_url`` fixture reads (unset: in-memory SQLite)."""

_MISSING = (
    "crudrouter_sqla.testing needs httpx and asgi-lifespan: pip install 'crudrouter-sqla[testing]'"
)


@asynccontextmanager
async def fresh_database(
    url: str | URL | None = None, *, metadata: MetaData | None = None, **engine_kwargs: Any
) -> AsyncIterator[Database]:
    """A new, empty database for one test, removed afterwards.

    Args:
        url: where to make it. None or an in-memory SQLite URL: a private in-memory SQLite
            database that every connection of the test shares (also through ``SQLALCHEMY_URL``).
            A PostgreSQL URL (of any database on the server, such as ``postgres``): a uniquely
            named database created on that server and dropped afterwards; the user needs
            ``CREATEDB``. A SQLite file URL: that file, which must not exist yet; it is deleted
            afterwards.
        metadata: tables to create in it.
        **engine_kwargs: passed to `Database`.

    Yields:
        A `Database` on the new database; its engine is disposed afterwards.
    """
    parsed = async_url(url if url is not None else "sqlite+aiosqlite://")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        async with _fresh_sqlite(parsed, engine_kwargs) as database:
            if metadata is not None:
                await database.create_all(metadata)
            yield database
    elif backend == "postgresql":
        async with _fresh_postgresql(parsed, engine_kwargs) as database:
            if metadata is not None:
                await database.create_all(metadata)
            yield database
    else:
        raise ValueError(f"fresh_database supports SQLite and PostgreSQL, got {parsed.drivername}")


@asynccontextmanager
async def _fresh_sqlite(url: URL, engine_kwargs: dict[str, Any]) -> AsyncIterator[Database]:
    if url.database in (None, "", ":memory:"):
        # A named, shared in-memory database: every engine on this URL sees the same tables,
        # so an app that builds its own Database from SQLALCHEMY_URL meets the test's data.
        name = f"file:crudrouter-test-{uuid.uuid4().hex}"
        shared = url.set(database=name, query={"mode": "memory", "cache": "shared", "uri": "true"})
        database = Database(shared, **engine_kwargs)
        # The database lives as long as one connection to it is open.
        keeper = await database.engine.connect()
        try:
            yield database
        finally:
            await keeper.close()
            await database.engine.dispose()
        return
    path = Path(str(url.database))
    if path.exists():
        raise ValueError(f"fresh_database wants a new SQLite file, but {path} exists")
    database = Database(url, **engine_kwargs)
    try:
        yield database
    finally:
        await database.engine.dispose()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@asynccontextmanager
async def _fresh_postgresql(url: URL, engine_kwargs: dict[str, Any]) -> AsyncIterator[Database]:
    name = f"crudrouter_test_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        database = Database(url.set(database=name), **engine_kwargs)
        try:
            yield database
        finally:
            await database.engine.dispose()
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def app_client(
    app: FastAPI,
    database: Database | None = None,
    *,
    sessions: Iterable[Callable[..., Any]] = (),
    base_url: str = "http://test",
    **client_kwargs: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """An `httpx.AsyncClient` on ``app``, inside the app's lifespan.

    Args:
        app: the FastAPI app; its lifespan runs around the client (start-up before the first
            request, shutdown after the last).
        database: when given, the core ``Session`` dependency and each of ``sessions`` answer
            sessions on this database for as long as the client is open.
        sessions: other session dependencies to point at ``database``, such as the
            ``db.session`` of a module-level ``Database`` the app's routers use.
        base_url: the client's base URL.
        **client_kwargs: passed to `httpx.AsyncClient`.
    """
    try:
        import httpx
        from asgi_lifespan import LifespanManager
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(_MISSING) from exc
    saved = dict(app.dependency_overrides)
    if database is not None:
        for dependency in (default_session, *sessions):
            if dependency is not database.session:
                app.dependency_overrides[dependency] = database.session
    try:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(
                transport=transport, base_url=base_url, **client_kwargs
            ) as client:
                yield client
    finally:
        app.dependency_overrides.clear()
        app.dependency_overrides.update(saved)


try:
    import pytest
    import pytest_asyncio
except ImportError:  # pragma: no cover - the context managers above work without pytest
    _PYTEST = False
else:
    _PYTEST = True

if _PYTEST:

    @pytest.fixture
    def database_url() -> str | None:
        """Where `database` makes its databases: ``CRUDROUTER_TEST_DATABASE_URL``, else an
        in-memory SQLite database. Override it to return a PostgreSQL URL."""
        return os.environ.get(TEST_DATABASE_URL_VARIABLE) or None

    @pytest.fixture
    def database_metadata() -> MetaData | None:
        """The tables `database` creates; override it to return your ``Base.metadata``."""
        return None

    @pytest_asyncio.fixture
    async def database(
        database_url: str | None,
        database_metadata: MetaData | None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> AsyncIterator[Database]:
        """A fresh `Database` for this test (see `fresh_database`), also named by
        ``SQLALCHEMY_URL`` while the test runs, so apps built from the environment use it."""
        async with fresh_database(database_url, metadata=database_metadata) as db:
            monkeypatch.setenv("SQLALCHEMY_URL", db.url.render_as_string(hide_password=False))
            monkeypatch.delenv("DATABASE_URL", raising=False)
            yield db

    @pytest_asyncio.fixture
    async def client(app: FastAPI, database: Database) -> AsyncIterator[httpx.AsyncClient]:
        """An `httpx.AsyncClient` on your ``app`` fixture, inside its lifespan, with the core
        ``Session`` answering sessions on `database` (see `app_client`)."""
        async with app_client(app, database) as http:
            yield http
