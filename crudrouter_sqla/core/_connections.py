"""Connection settings a `Database` applies: timeouts on the server and on the client,
dropping closed or timed-out connections from the pool, and PgBouncer's transaction mode."""

import math
import re
import time
import uuid
from contextlib import suppress
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool
from sqlalchemy.util import (
    await_only,  # await_ from SQLAlchemy 2.1 on; both in 2.1
    get_cls_kwargs,
)


def discard_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed; the pool then opens a new one.

    After a server restart, a failover or an idle timeout the pool still holds connections
    whose sockets are gone. asyncpg and psycopg notice the server closing them, so asking them
    costs nothing, where ``pool_pre_ping`` pays round trips on every checkout.
    """
    driver = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)  # asyncpg
    if callable(is_closed):
        closed = bool(is_closed())
    else:  # psycopg
        closed = bool(getattr(driver, "closed", False) or getattr(driver, "broken", False))
    if closed:
        raise DisconnectionError("the server closed this pooled connection")


def timeout_milliseconds(seconds: float) -> int:
    number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    if not (number and math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"statement_timeout must be a number of seconds > 0, got {seconds!r}")
    return max(1, round(seconds * 1000))


def postgresql_timeout(url: URL, milliseconds: int, engine_kwargs: dict[str, Any]) -> None:
    """Have the server cancel statements that run longer (SQLSTATE 57014, a 503)."""
    connect_args = dict(engine_kwargs.get("connect_args", {}))
    if url.get_driver_name() == "asyncpg":
        settings = dict(connect_args.get("server_settings", {}))
        settings.setdefault("statement_timeout", str(milliseconds))
        connect_args["server_settings"] = settings
    elif url.get_driver_name() == "psycopg":
        options = connect_args.get("options", "")
        connect_args["options"] = f"{options} -c statement_timeout={milliseconds}".strip()
    else:
        raise ValueError(
            "statement_timeout supports the asyncpg and psycopg drivers of PostgreSQL, and "
            f"SQLite; got {url.drivername}"
        )
    engine_kwargs["connect_args"] = connect_args


def jit_off(url: URL, engine_kwargs: dict[str, Any]) -> None:
    """Turn PostgreSQL's JIT compilation off on each connection, unless ``connect_args``
    already sets ``jit``.

    The planner compiles a statement to machine code once its estimated cost passes
    ``jit_above_cost``. Estimates grow with the number of conditions, not with the rows: a
    query string of nested groups over to-many paths (each an ``EXISTS``) on a table of 30 rows
    made PostgreSQL spend seconds of CPU compiling for a statement that runs in milliseconds.
    The statements the routes make are short-lived, where compiling never pays off.
    """
    driver = url.get_driver_name()
    connect_args = dict(engine_kwargs.get("connect_args", {}))
    if driver == "asyncpg":
        settings = dict(connect_args.get("server_settings", {}))
        settings.setdefault("jit", "off")
        connect_args["server_settings"] = settings
    elif driver == "psycopg":
        options = str(connect_args.get("options", ""))
        if not re.search(r"jit\s*=", options):
            connect_args["options"] = f"{options} -c jit=off".strip()
    else:
        return
    engine_kwargs["connect_args"] = connect_args


class SQLiteTimeout:
    """A statement timeout for SQLite, which has none: a progress handler interrupts a statement
    once its deadline has passed (``SQLITE_INTERRUPT``, a 503).

    Waits for a lock are bounded by the driver's busy ``timeout`` instead
    (``connect_args={"timeout": seconds}``, default 5), which also ends in a 503.
    """

    KEY = "crudrouter_sqla_deadline"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def attach(self, engine: Any) -> None:
        event.listen(engine, "connect", self.on_connect)
        event.listen(engine, "before_cursor_execute", self.before_execute)
        event.listen(engine, "after_cursor_execute", self.after_execute)
        event.listen(engine, "handle_error", self.on_error)

    def on_connect(self, dbapi_connection: Any, record: Any) -> None:
        deadline: list[float | None] = [None]
        record.info[self.KEY] = deadline

        def interrupt() -> int:
            # Runs in the driver's thread every few thousand virtual machine instructions.
            due = deadline[0]
            if due is not None and time.monotonic() > due:
                deadline[0] = None
                return 1
            return 0

        driver = dbapi_connection.driver_connection
        await_only(driver.set_progress_handler(interrupt, 10_000))

    def _deadline(self, conn: Any) -> list[float | None] | None:
        """The deadline cell of the DBAPI connection under a `Connection`, if it has one."""
        if conn is None or conn.invalidated or conn.closed:
            return None
        cell = conn.connection.info.get(self.KEY)
        return cell if isinstance(cell, list) else None

    def before_execute(self, conn: Any, *_args: Any) -> None:
        cell = self._deadline(conn)
        if cell is not None:
            cell[0] = time.monotonic() + self.seconds

    def after_execute(self, conn: Any, *_args: Any) -> None:
        cell = self._deadline(conn)
        if cell is not None:
            cell[0] = None

    def on_error(self, context: Any) -> None:
        # A failed statement must not leave a deadline that would interrupt the rollback.
        cell = self._deadline(context.connection)
        if cell is not None:
            cell[0] = None


DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection before the request gets a 503."""
DEFAULT_COMMAND_TIMEOUT = 5.0
"""Seconds to wait for the server's answer to one command before the request gets a 503."""
DEFAULT_POOL_TIMEOUT = 5.0
"""Seconds a request waits for a pooled connection before it gets a 503."""
DEFAULT_POOL_SIZE = 15
"""Connections a pool keeps open: SQLAlchemy's most (5 kept + 10 overflow), all kept."""


def pool_defaults(url: URL, engine_kwargs: dict[str, Any], *, timeout: float | None) -> None:
    """Check the pool options given, and add defaults that keep every connection the pool
    opens and bound the wait for one, each only where the pool class takes it.

    SQLAlchemy's `QueuePool` keeps 5 connections and opens up to 10 more under load, closing
    each of those as soon as it is returned while 5 others are idle. A request holds its
    connection from its first statement until its commit, so 16 concurrent requests keep more
    than 5 checked out nearly all the time, and about every other request opens a connection
    (an aiosqlite thread, or a PostgreSQL backend) and closes it again. With the same most
    connections (15), kept open, none is opened twice. Explicit pool settings win.

    `NullPool` and `StaticPool` take no size and no timeout, and a ready-made ``pool=`` takes
    no pool options at all: ``create_engine`` refuses any option its pool does not take.
    """
    _check_pool_options(engine_kwargs)
    if engine_kwargs.get("pool") is not None:
        return
    # get_pool_class is DefaultDialect's, which every SQLAlchemy dialect derives from.
    dialect: Any = url.get_dialect(_is_async=True)
    poolclass = engine_kwargs.get("poolclass") or dialect.get_pool_class(url)
    # The options create_engine hands the pool: the keyword arguments of its __init__ chain.
    takes = get_cls_kwargs(poolclass)
    sized = "pool_size" in engine_kwargs or "max_overflow" in engine_kwargs
    if not sized and {"pool_size", "max_overflow"} <= takes:
        engine_kwargs["pool_size"] = DEFAULT_POOL_SIZE
        engine_kwargs["max_overflow"] = 0
    if timeout is not None and "timeout" in takes:
        engine_kwargs.setdefault("pool_timeout", timeout)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_pool_options(engine_kwargs: dict[str, Any]) -> None:
    """A `ValueError` naming the pool option of the wrong type or range, rather than a
    ``TypeError`` from inside the pool on the first request."""
    poolclass = engine_kwargs.get("poolclass")
    if poolclass is not None and not (isinstance(poolclass, type) and issubclass(poolclass, Pool)):
        raise ValueError(
            f"poolclass must be a pool class such as NullPool (not an instance), got {poolclass!r}"
        )
    pool = engine_kwargs.get("pool")
    if pool is not None and not isinstance(pool, Pool):
        raise ValueError(f"pool must be a sqlalchemy.pool.Pool instance, got {pool!r}")
    if "pool_size" in engine_kwargs:
        size = engine_kwargs["pool_size"]
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
            raise ValueError(f"pool_size must be an integer >= 0 (0: no limit), got {size!r}")
    if "max_overflow" in engine_kwargs:
        overflow = engine_kwargs["max_overflow"]
        if not (isinstance(overflow, int) and not isinstance(overflow, bool) and overflow >= -1):
            raise ValueError(
                f"max_overflow must be an integer >= -1 (-1: no limit), got {overflow!r}"
            )
    wait = engine_kwargs.get("pool_timeout")
    if wait is not None and not (_is_number(wait) and wait >= 0):
        raise ValueError(f"pool_timeout must be a number of seconds >= 0 or None, got {wait!r}")
    recycle = engine_kwargs.get("pool_recycle", -1)
    if not _is_number(recycle):
        raise ValueError(f"pool_recycle must be a number of seconds (-1: never), got {recycle!r}")


def positive_seconds(name: str, seconds: object) -> float:
    if (
        isinstance(seconds, int | float)
        and not isinstance(seconds, bool)
        and math.isfinite(seconds)
        and seconds > 0
    ):
        return float(seconds)
    raise ValueError(f"{name} must be a number of seconds > 0 or None, got {seconds!r}")


def client_timeouts(
    url: URL, connect: float | None, command: float | None, engine_kwargs: dict[str, Any]
) -> None:
    """Bound the client's waits: opening a connection, and each command's answer.

    The server's ``statement_timeout`` cannot help when the server itself hangs (a frozen host,
    a network partition): only the client can give up then. Explicit ``connect_args`` win.
    """
    driver = url.get_driver_name()
    connect_args = dict(engine_kwargs.get("connect_args", {}))
    if driver == "asyncpg":
        if connect is not None:
            connect_args.setdefault("timeout", connect)
        if command is not None:
            connect_args.setdefault("command_timeout", command)
    elif driver == "psycopg" and connect is not None:
        connect_args.setdefault("connect_timeout", max(1, math.ceil(connect)))
    elif driver in ("aiomysql", "asyncmy") and connect is not None:
        connect_args.setdefault("connect_timeout", connect)
    if connect_args:
        engine_kwargs["connect_args"] = connect_args


def pgbouncer_settings(url: URL, engine_kwargs: dict[str, Any]) -> None:
    """Connection settings that work behind PgBouncer in transaction pooling mode.

    PgBouncer hands each transaction to any server connection, so a prepared statement made in
    one transaction may be missing in the next, or clash with another client's of the same
    name. asyncpg then needs no statement cache (its own and SQLAlchemy's) and unique names for
    the statements SQLAlchemy prepares inside each transaction.
    """
    if url.get_driver_name() != "asyncpg":
        return  # psycopg prepares nothing by default; nothing to change
    connect_args = dict(engine_kwargs.get("connect_args", {}))
    connect_args.setdefault("statement_cache_size", 0)
    connect_args.setdefault("prepared_statement_cache_size", 0)
    connect_args.setdefault("prepared_statement_name_func", unique_statement_name)
    engine_kwargs["connect_args"] = connect_args


def unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def drop_timed_out_connection(context: Any) -> None:
    """A ``handle_error`` hook: a connection whose command timed out on the client is dropped.

    Its state is unknown (the server may be frozen, the command may still run), so it is closed
    at once, without the goodbye a frozen server would never answer, and invalidated. The rest
    of the pool is left alone: each idle connection shows its own state when next used.
    """
    error = context.original_exception
    if not isinstance(error, TimeoutError) or context.connection is None:
        return
    with suppress(Exception):
        driver = context.connection.connection.driver_connection
        terminate = getattr(driver, "terminate", None)
        if callable(terminate):
            terminate()
    context.is_disconnect = True
    context.invalidate_pool_on_disconnect = False


class MySQLTimeout:
    """A statement timeout for MariaDB (``max_statement_time``, any statement) and MySQL
    (``max_execution_time``, read-only SELECTs only), set on each new connection."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def attach(self, engine: Any) -> None:
        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            if getattr(engine.dialect, "is_mariadb", False):
                setting = f"SET SESSION max_statement_time = {self.seconds:.3f}"
            else:
                setting = f"SET SESSION max_execution_time = {timeout_milliseconds(self.seconds)}"
            cursor = dbapi_connection.cursor()
            cursor.execute(setting)
            cursor.close()

        event.listen(engine, "connect", on_connect)
