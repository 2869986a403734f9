"""`Database`: one async engine, its sessions, a lifespan and the request-scoped session."""

import os
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ._connections import (
    SQLiteTimeout,
    discard_closed_connection,
    postgresql_timeout,
    timeout_milliseconds,
)
from ._errors import to_http_exception, translate_error

DEFAULT_URL = "sqlite+aiosqlite:///./app.db"
URL_VARIABLES = ("SQLALCHEMY_URL", "DATABASE_URL")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
SessionDependency = Callable[..., Coroutine[Any, Any, AsyncSession]]


class DatabaseConnectionError(RuntimeError):
    """The database named by a `Database` could not be reached at start-up."""


_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_url(url: str | URL) -> URL:
    """Parse a URL, choosing the async driver when it names none.

    Hosting platforms set ``DATABASE_URL=postgres://...``; that means asyncpg here, and a plain
    ``sqlite://`` means aiosqlite.
    """
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite enforces foreign keys only when each connection asks for it.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """One database: an async engine, a session factory, a lifespan and a session dependency.

    Args:
        url: an async SQLAlchemy URL, such as ``sqlite+aiosqlite:///./app.db`` or
            ``postgresql+asyncpg://user:password@host/db``.
        statement_timeout: seconds a statement may run before the database cancels it; the
            request then gets a 503. On PostgreSQL (asyncpg or psycopg) this is the server's
            ``statement_timeout``, set for each connection. SQLite has no such setting: a
            progress handler interrupts statements that overrun, and waits for a lock are
            bounded by the driver's busy ``timeout`` instead. Default: no limit.
        **engine_kwargs: passed to `sqlalchemy.ext.asyncio.create_async_engine`, such as
            ``pool_size`` (connections kept open; PostgreSQL serves as many requests at once as
            the pool has connections) or ``pool_pre_ping=True``.

    Connections the server closed (a restart, a failover, an idle timeout) are dropped from the
    pool when they are next checked out, without a round trip; a request that meets a lost
    connection mid-statement gets a 503, and the pool starts afresh. ``pool_pre_ping=True``
    also catches connections that died silently (a firewall dropping idle connections), at the
    cost of round trips on every checkout.

    Example:
        ```python
        from fastapi import Depends, FastAPI
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import AsyncSession

        from crudrouter_sqla.core import Database

        db = Database("sqlite+aiosqlite://")
        app = FastAPI(lifespan=db.lifespan)

        @app.get("/now")
        async def now(session: AsyncSession = Depends(db.session)) -> str:
            return str((await session.execute(text("select 1"))).scalar_one())
        ```
    """

    def __init__(
        self, url: str | URL, *, statement_timeout: float | None = None, **engine_kwargs: Any
    ) -> None:
        self.url: URL = async_url(url)
        self.statement_timeout = statement_timeout
        backend = self.url.get_backend_name()
        timeout_ms = None if statement_timeout is None else timeout_milliseconds(statement_timeout)
        in_memory = self.url.database in (None, "", ":memory:") or (
            self.url.query.get("mode") == "memory"
        )
        if backend == "sqlite" and in_memory:
            # An in-memory database lives in one connection; every session must share it.
            engine_kwargs.setdefault("poolclass", StaticPool)
            engine_kwargs.setdefault("connect_args", {"check_same_thread": False})
        if timeout_ms is not None and backend == "postgresql":
            postgresql_timeout(self.url, timeout_ms, engine_kwargs)
        elif timeout_ms is not None and backend != "sqlite":
            raise ValueError(
                f"statement_timeout supports PostgreSQL and SQLite, got {self.url.drivername}"
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **engine_kwargs)
        sync_engine = self.engine.sync_engine
        if backend == "sqlite":
            event.listen(sync_engine, "connect", _enable_sqlite_foreign_keys)
            if statement_timeout is not None:
                SQLiteTimeout(statement_timeout).attach(sync_engine)
        else:
            event.listen(sync_engine, "checkout", discard_closed_connection)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        self.session: SessionDependency = _new_session_dependency(self)
        self.lifespan: Lifespan = self.new_lifespan()

    @classmethod
    def from_env(cls, **engine_kwargs: Any) -> "Database":
        """Build a `Database` from ``SQLALCHEMY_URL``, then ``DATABASE_URL``, else a SQLite file.

        Example:
            ```python
            from crudrouter_sqla.core import Database

            db = Database.from_env()
            ```
        """
        for name in URL_VARIABLES:
            value = os.environ.get(name)
            if value:
                return cls(value, **engine_kwargs)
        return cls(DEFAULT_URL, **engine_kwargs)

    def __repr__(self) -> str:
        return f"Database({self.safe_url!r})"

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden, safe to log or show."""
        return self.url.render_as_string(hide_password=True)

    async def check_connection(self) -> None:
        """Run ``SELECT 1``; raise `DatabaseConnectionError` naming the URL (no password)."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            reason = type(getattr(exc, "orig", None) or exc).__name__
            password = self.url.password
            message = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            if password:
                message = message.replace(str(password), "***")
            raise DatabaseConnectionError(
                f"cannot connect to the database at {self.safe_url}: {reason}: {message}"
            ) from None

    def new_lifespan(self, *, create_all: MetaData | None = None) -> Lifespan:
        """Return a FastAPI lifespan that checks the connection and disposes the engine.

        Args:
            create_all: a metadata whose tables are created (if missing) at start-up.

        Example:
            ```python
            from fastapi import FastAPI
            from sqlalchemy.orm import DeclarativeBase

            from crudrouter_sqla.core import Database

            class Base(DeclarativeBase):
                pass

            db = Database("sqlite+aiosqlite://")
            app = FastAPI(lifespan=db.new_lifespan(create_all=Base.metadata))
            ```
        """

        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            await self.check_connection()
            if create_all is not None:
                await self.create_all(create_all)
            try:
                yield
            finally:
                await self.engine.dispose()

        return lifespan

    async def create_all(self, metadata: MetaData) -> None:
        """Create the tables of ``metadata`` that do not exist yet."""
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    @asynccontextmanager
    async def open_session(self) -> AsyncIterator[AsyncSession]:
        """A session and transaction outside a request: commit on success, roll back on error.

        Example:
            ```python
            from sqlalchemy import text

            from crudrouter_sqla.core import Database

            async def job(db: Database) -> None:
                async with db.open_session() as session:
                    await session.execute(text("select 1"))
            ```
        """
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await _rollback(session)
                raise

    @asynccontextmanager
    async def request_transaction(self) -> AsyncIterator[AsyncSession]:
        """Like `open_session`, but database failures become HTTP errors (409, 422, 503)."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException as exc:
                await _rollback(session)
                # An HTTP error the endpoint raised is already translated (maybe from a database
                # error in its chain, with more detail); pass it on as it is.
                error = None if isinstance(exc, _HTTP_ERRORS) else translate_error(exc)
                if error is not None:
                    raise to_http_exception(error) from exc
                raise


_HTTP_ERRORS = (StarletteHTTPException, RequestValidationError)


async def _rollback(session: AsyncSession) -> None:
    # A lost connection cannot roll back; the original error is the one worth reporting.
    with suppress(SQLAlchemyError, OSError):
        await session.rollback()


def _new_session_dependency(db: Database) -> SessionDependency:
    async def transaction() -> AsyncIterator[AsyncSession]:
        async with db.request_transaction() as session:
            yield session

    # A plain dependency over a function-scoped generator: every user of ``Depends(db.session)``
    # gets the commit after the endpoint returns and before the response is sent.
    async def session(
        session: Annotated[AsyncSession, Depends(transaction, scope="function")],
    ) -> AsyncSession:
        return session

    session.__doc__ = f"The request's session on {db.safe_url}; committed before the response."
    return session
