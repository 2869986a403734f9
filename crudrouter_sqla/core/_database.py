"""`Database`: one async engine, its sessions, a lifespan and the request-scoped session."""

import os
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
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
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_POOL_TIMEOUT,
    MySQLTimeout,
    SQLiteTimeout,
    client_timeouts,
    discard_closed_connection,
    drop_timed_out_connection,
    jit_off,
    pgbouncer_settings,
    pool_defaults,
    positive_seconds,
    postgresql_timeout,
    timeout_milliseconds,
)
from ._errors import to_http_exception, translate_error
from ._routing import (
    AUTOCOMMIT_READS_KEY,
    READ_METHODS,
    REPLICA_KEY,
    RoutingSession,
    pin_to_primary,
)
from ._urls import redact_secrets, redacted_url

DEFAULT_URL = "sqlite+aiosqlite:///./app.db"
URL_VARIABLES = ("SQLALCHEMY_URL", "DATABASE_URL")
REPLICA_VARIABLE = "SQLALCHEMY_REPLICA_URLS"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
SessionDependency = Callable[..., Coroutine[Any, Any, AsyncSession]]


class DatabaseConnectionError(RuntimeError):
    """The database named by a `Database` could not be reached at start-up."""


_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "mysql": "mysql+aiomysql",
    "mariadb": "mariadb+aiomysql",
}


def async_url(url: str | URL) -> URL:
    """Parse a URL, choosing the async driver when it names none.

    Hosting platforms set ``DATABASE_URL=postgres://...``; that means asyncpg here, a plain
    ``sqlite://`` means aiosqlite, and ``mysql://`` or ``mariadb://`` aiomysql.
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
        replica_urls: read replicas of the primary at ``url``. ``db.session`` then reads from a
            replica (in turn) for GET, HEAD and OPTIONS requests until their first write; other
            requests and `open_session` run on the primary. Replicas lag: see
            ``primary_session`` and `pin_to_primary` for reads that must see a write.
        statement_timeout: seconds a statement may run before the database cancels it; the
            request then gets a 503. On PostgreSQL (asyncpg or psycopg) this is the server's
            ``statement_timeout``, set for each connection; on MariaDB ``max_statement_time``,
            on MySQL ``max_execution_time`` (read-only statements). SQLite has no such setting:
            a progress handler interrupts statements that overrun, and waits for a lock are
            bounded by the driver's busy ``timeout`` instead. Default: no limit.
        connect_timeout: seconds to open a connection before the request gets a 503
            (asyncpg, psycopg, aiomysql, asyncmy). Default 5; None: the driver's own.
        command_timeout: seconds to wait for the server's answer to one statement before the
            request gets a 503 and the connection is dropped (asyncpg): a frozen or
            partitioned server is an error, not a hang. Default 5, raised to
            ``statement_timeout + 1`` when that is longer; None: wait forever.
        pgbouncer: the server is PgBouncer in transaction pooling mode: asyncpg then keeps no
            prepared statements between transactions. PgBouncer refuses
            ``statement_timeout`` and ``jit`` as connection settings; set them on the role
            instead.
        **engine_kwargs: passed to `sqlalchemy.ext.asyncio.create_async_engine`, such as
            ``pool_size`` (connections kept open; PostgreSQL serves as many requests at once as
            the pool has connections), ``pool_timeout`` (seconds to wait for a pooled
            connection; default 5 here, except on SQLite) or ``pool_pre_ping=True``. Without
            ``pool_size`` and ``max_overflow`` a queue pool keeps up to 15 connections open and
            opens no more (SQLAlchemy's own default keeps 5 and opens and closes up to 10 more
            under load). Any ``poolclass`` the driver allows works (``NullPool``,
            ``StaticPool``...): defaults go only to a pool that takes them.

    On PostgreSQL (asyncpg or psycopg) each connection sets ``jit = off``: compiling
    statements to machine code costs seconds of server CPU for a long query string and never
    pays off for the routes' short statements. Set ``jit`` in ``connect_args`` (asyncpg:
    ``{"server_settings": {"jit": "on"}}``, psycopg: ``{"options": "-c jit=on"}``) to keep it.

    Connections the server closed (a restart, a failover, an idle timeout) are dropped from the
    pool when they are next checked out, without a round trip; a request that meets a lost
    connection mid-statement gets a 503, and the pool starts afresh. ``pool_pre_ping=True``
    also catches connections that died silently (a firewall dropping idle connections), at the
    cost of round trips on every checkout.

    Example:
        ```python
        from fastapi import Depends, FastAPI, Request
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
        self,
        url: str | URL,
        *,
        replica_urls: Sequence[str | URL] = (),
        statement_timeout: float | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        command_timeout: float | None = DEFAULT_COMMAND_TIMEOUT,
        pgbouncer: bool = False,
        **engine_kwargs: Any,
    ) -> None:
        if isinstance(replica_urls, str | URL):
            # A lone URL would be read as a sequence of one-letter URLs.
            raise ValueError(
                "replica_urls must be a list of URLs, got one URL: "
                f"{redacted_url(async_url(replica_urls))}"
            )
        self.url: URL = async_url(url)
        self.replica_urls: tuple[URL, ...] = tuple(async_url(u) for u in replica_urls)
        self.statement_timeout = statement_timeout
        self.pgbouncer = pgbouncer
        backend = self.url.get_backend_name()
        for replica in self.replica_urls:
            if replica.get_backend_name() != backend:
                raise ValueError(
                    f"replica {redacted_url(replica)} is not a {backend} database like the primary"
                )
        timeout_ms = None if statement_timeout is None else timeout_milliseconds(statement_timeout)
        if connect_timeout is not None:
            connect_timeout = positive_seconds("connect_timeout", connect_timeout)
        if command_timeout is not None:
            command_timeout = positive_seconds("command_timeout", command_timeout)
            if statement_timeout is not None and command_timeout <= statement_timeout:
                # The server's own timeout answers first, with a cleaner cancel.
                command_timeout = float(statement_timeout) + 1
        in_memory = self.url.database in (None, "", ":memory:") or (
            self.url.query.get("mode") == "memory"
        )
        if backend == "sqlite" and in_memory:
            # An in-memory database lives in one connection; every session must share it.
            engine_kwargs.setdefault("poolclass", StaticPool)
            engine_kwargs.setdefault("connect_args", {"check_same_thread": False})
        pool_defaults(
            self.url,
            engine_kwargs,
            timeout=None if backend == "sqlite" else DEFAULT_POOL_TIMEOUT,
        )
        if backend != "sqlite":
            client_timeouts(self.url, connect_timeout, command_timeout, engine_kwargs)
        if pgbouncer:
            if backend != "postgresql":
                raise ValueError(
                    f"pgbouncer=True needs a PostgreSQL URL, got {self.url.drivername}"
                )
            if timeout_ms is not None:
                raise ValueError(
                    "PgBouncer refuses statement_timeout as a connection parameter; set it on "
                    "the database role instead (ALTER ROLE app SET statement_timeout = '5s') "
                    "and leave statement_timeout out"
                )
            pgbouncer_settings(self.url, engine_kwargs)
        if backend == "postgresql" and not pgbouncer:
            # PgBouncer refuses startup parameters it does not know; set jit on the role there.
            jit_off(self.url, engine_kwargs)
        if timeout_ms is not None and backend == "postgresql":
            postgresql_timeout(self.url, timeout_ms, engine_kwargs)
        elif timeout_ms is not None and backend not in ("sqlite", "mysql", "mariadb"):
            raise ValueError(
                "statement_timeout supports PostgreSQL, MySQL, MariaDB and SQLite, got "
                f"{self.url.drivername}"
            )
        # Reads without BEGIN/COMMIT: asyncpg at the server's READ COMMITTED only (PgBouncer's
        # transaction mode needs every statement inside a transaction block).
        self.autocommit_reads = (
            self.url.get_driver_name() == "asyncpg"
            and not pgbouncer
            and "isolation_level" not in engine_kwargs
            and "isolation_level" not in engine_kwargs.get("execution_options", {})
        )
        self.engine: AsyncEngine = self._new_engine(self.url, engine_kwargs)
        self.replicas: tuple[AsyncEngine, ...] = tuple(
            self._new_engine(u, engine_kwargs) for u in self.replica_urls
        )
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=RoutingSession
        )
        self.session: SessionDependency = _new_session_dependency(self, replicas=True)
        self.primary_session: SessionDependency = _new_session_dependency(self, replicas=False)
        self.lifespan: Lifespan = self.new_lifespan()
        self._next_replica = 0

    def _new_engine(self, url: URL, engine_kwargs: dict[str, Any]) -> AsyncEngine:
        engine = create_async_engine(url, **engine_kwargs)
        sync_engine = engine.sync_engine
        backend = url.get_backend_name()
        if backend == "sqlite":
            event.listen(sync_engine, "connect", _enable_sqlite_foreign_keys)
            if self.statement_timeout is not None:
                SQLiteTimeout(self.statement_timeout).attach(sync_engine)
        else:
            event.listen(sync_engine, "checkout", discard_closed_connection)
            event.listen(sync_engine, "handle_error", drop_timed_out_connection)
        if backend in ("mysql", "mariadb") and self.statement_timeout is not None:
            MySQLTimeout(self.statement_timeout).attach(sync_engine)
        return engine

    def replica(self) -> AsyncEngine | None:
        """The replica the next read-only request uses (round robin), or None without replicas."""
        if not self.replicas:
            return None
        engine = self.replicas[self._next_replica % len(self.replicas)]
        self._next_replica += 1
        return engine

    @staticmethod
    def pin_to_primary(session: AsyncSession) -> None:
        """Run the rest of this session's statements on the primary, such as a request's
        reads that must see the client's own recent write (read-your-writes).

        Example:
            ```python
            from typing import Annotated

            from fastapi import Depends, Request
            from sqlalchemy.ext.asyncio import AsyncSession

            from crudrouter_sqla.core import Database

            db = Database("sqlite+aiosqlite://")

            async def session(
                request: Request, session: Annotated[AsyncSession, Depends(db.session)]
            ) -> AsyncSession:
                if "wrote" in request.cookies:  # set by your write routes for a few seconds
                    db.pin_to_primary(session)
                return session
            ```
        """
        pin_to_primary(session)

    @classmethod
    def from_env(cls, **engine_kwargs: Any) -> "Database":
        """Build a `Database` from ``SQLALCHEMY_URL``, then ``DATABASE_URL``, else a SQLite file;
        ``SQLALCHEMY_REPLICA_URLS`` (comma-separated) names read replicas.

        Example:
            ```python
            from crudrouter_sqla.core import Database

            db = Database.from_env()
            ```
        """
        replicas = os.environ.get(REPLICA_VARIABLE, "")
        if replicas.strip() and "replica_urls" not in engine_kwargs:
            engine_kwargs["replica_urls"] = [u.strip() for u in replicas.split(",") if u.strip()]
        for name in URL_VARIABLES:
            value = os.environ.get(name)
            if value:
                return cls(value, **engine_kwargs)
        return cls(DEFAULT_URL, **engine_kwargs)

    def __repr__(self) -> str:
        return f"Database({self.safe_url!r})"

    @property
    def safe_url(self) -> str:
        """The URL with its password and every query parameter that names a secret
        (``?password=``, ``?sslpassword=``...) shown as ``***``, safe to log or show."""
        return redacted_url(self.url)

    async def check_connection(self) -> None:
        """Run ``SELECT 1`` on the primary and each replica; raise `DatabaseConnectionError`
        naming the URL (no password or other secret) of the first that fails."""
        await _check(self.engine)
        for replica in self.replicas:
            await _check(replica)

    async def dispose(self) -> None:
        """Close every pooled connection of the primary and the replicas."""
        await self.engine.dispose()
        for replica in self.replicas:
            await replica.dispose()

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
                await self.dispose()

        return lifespan

    async def create_all(self, metadata: MetaData) -> None:
        """Create the tables of ``metadata`` that do not exist yet."""
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    def new_session(self, *, replica: bool = False) -> AsyncSession:
        """A new session on the primary; with ``replica=True`` (and replicas configured) it
        reads from a replica until its first write."""
        session = self.sessionmaker()
        engine = self.replica() if replica else None
        if engine is not None:
            session.sync_session.info[REPLICA_KEY] = engine.sync_engine
        return session

    @asynccontextmanager
    async def open_session(self, *, replica: bool = False) -> AsyncIterator[AsyncSession]:
        """A session and transaction outside a request: commit on success, roll back on error.

        It runs on the primary, unless ``replica=True`` sends its reads to a replica until
        its first write.

        Example:
            ```python
            from sqlalchemy import text

            from crudrouter_sqla.core import Database

            async def job(db: Database) -> None:
                async with db.open_session() as session:
                    await session.execute(text("select 1"))
            ```
        """
        async with self.new_session(replica=replica) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await _rollback(session)
                raise

    @asynccontextmanager
    async def request_transaction(
        self, *, replica: bool = False, read_only: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """Like `open_session`, but database failures become HTTP errors (409, 422, 503).

        ``read_only`` (a GET, HEAD or OPTIONS request) lets the router's generated read routes
        run their statements on PostgreSQL without ``BEGIN`` and ``COMMIT``; other code using
        the session gets its transaction as always.
        """
        async with self.new_session(replica=replica) as session:
            if read_only and self.autocommit_reads:
                session.sync_session.info[AUTOCOMMIT_READS_KEY] = True
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

REQUEST_SESSIONS_KEY = "crudrouter_sqla.sessions"
"""ASGI scope key: the sessions the request's `Database` session dependencies opened, by
dependency."""


async def _rollback(session: AsyncSession) -> None:
    # A lost connection cannot roll back; the original error is the one worth reporting.
    with suppress(SQLAlchemyError, OSError):
        await session.rollback()


async def _check(engine: AsyncEngine) -> None:
    url = engine.url
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        reason = type(getattr(exc, "orig", None) or exc).__name__
        lines = str(getattr(exc, "orig", None) or exc).splitlines() or [""]
        # Redacted before it is cut short, so that no secret survives in part.
        message = redact_secrets(lines[0], url)[:200]
        raise DatabaseConnectionError(
            f"cannot connect to the database at {redacted_url(url)}: {reason}: {message}"
        ) from None


def _new_session_dependency(db: Database, *, replicas: bool) -> SessionDependency:
    if replicas and db.replicas:

        def open_for(request: Request) -> AbstractAsyncContextManager[AsyncSession]:
            # A request that may write runs on the primary from its first statement on.
            reads = request.method in READ_METHODS
            return db.request_transaction(replica=reads, read_only=reads)

    else:

        def open_for(request: Request) -> AbstractAsyncContextManager[AsyncSession]:
            return db.request_transaction(read_only=request.method in READ_METHODS)

    async def transaction(request: Request) -> AsyncIterator[AsyncSession]:
        async with open_for(request) as session:
            # Shown to the generated routes, which use this session rather than open their own
            # when some dependency of the request took it.
            shared = request.scope.setdefault(REQUEST_SESSIONS_KEY, {})
            shared[session_dependency] = session
            try:
                yield session
            finally:
                shared.pop(session_dependency, None)

    # A plain dependency over a function-scoped generator: every user of ``Depends(db.session)``
    # gets the commit after the endpoint returns and before the response is sent.
    async def session(
        session: Annotated[AsyncSession, Depends(transaction, scope="function")],
    ) -> AsyncSession:
        return session

    session_dependency = session

    where = "" if replicas and db.replicas else " (primary)"
    session.__doc__ = (
        f"The request's session on {db.safe_url}{where}; committed before the response."
    )
    session.__crudrouter_sqla_session__ = True  # type: ignore[attr-defined]
    session.__crudrouter_sqla_database__ = db  # type: ignore[attr-defined]
    # The request's transaction, for a route that opens it itself rather than through the
    # dependency (the generated routes, when nothing else in the request shares the session).
    session.__crudrouter_sqla_open__ = open_for  # type: ignore[attr-defined]
    return session
