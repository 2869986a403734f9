"""Connection settings a `Database` applies: statement timeouts and dropping closed
connections from the pool."""

import math
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.util import await_only  # await_ from SQLAlchemy 2.1 on; both in 2.1


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
