"""Database errors, translated in one place.

The tree::

    DatabaseError                 any failure the database reported for a request
     ├── ConstraintViolation      unique, foreign key, not null, check, exclusion   -> 409
     ├── InvalidValue             a value the column cannot hold (too long, out of
     │                            range, bad encoding)                              -> 422
     └── DatabaseUnavailable      the server cannot be reached, timed out, or gave  -> 503
                                  up on a transaction that met a concurrent one     + Retry-After

`translate_error` turns a driver or SQLAlchemy exception into one of these, preferring SQLSTATE
codes and driver attributes to message text. `to_http_exception` maps them to HTTP at the edge.
Nothing here ever copies SQL, bound parameters, driver messages or row values into a detail.

Not every failure of the database arrives as a SQLAlchemy exception: a refused or reset
connection while the pool connects, or a driver error raised during the connection handshake,
comes out as the plain `OSError` or driver exception. Those are translated too, but only when
they were raised inside SQLAlchemy or a driver, so an `OSError` of the application's own code
is left alone.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc

ConstraintKind = Literal["unique", "foreign_key", "not_null", "check", "exclusion", "unknown"]
Operation = Literal["write", "delete"]
UnavailableReason = Literal["unavailable", "timeout", "conflict"]

RETRY_AFTER_SECONDS = 1

_PG_KINDS: dict[str, ConstraintKind] = {
    "23505": "unique",
    "23503": "foreign_key",
    "23502": "not_null",
    "23514": "check",
    "23P01": "exclusion",
}
_SQLITE_KINDS: dict[str, ConstraintKind] = {
    "SQLITE_CONSTRAINT_UNIQUE": "unique",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "unique",
    "SQLITE_CONSTRAINT_FOREIGNKEY": "foreign_key",
    "SQLITE_CONSTRAINT_NOTNULL": "not_null",
    "SQLITE_CONSTRAINT_CHECK": "check",
}
# MySQL and MariaDB error numbers (the same in both, except where noted).
_MYSQL_KINDS: dict[int, ConstraintKind] = {
    1062: "unique",  # ER_DUP_ENTRY
    1586: "unique",  # ER_DUP_ENTRY_WITH_KEY_NAME
    1557: "unique",  # ER_FOREIGN_DUPLICATE_KEY
    1452: "foreign_key",  # ER_NO_REFERENCED_ROW_2
    1216: "foreign_key",  # ER_NO_REFERENCED_ROW
    1451: "foreign_key",  # ER_ROW_IS_REFERENCED_2: the row is referenced
    1217: "foreign_key",  # ER_ROW_IS_REFERENCED
    1048: "not_null",  # ER_BAD_NULL_ERROR
    1364: "not_null",  # ER_NO_DEFAULT_FOR_FIELD (strict mode, column left out)
    3819: "check",  # ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
    4025: "check",  # ER_CONSTRAINT_FAILED (MariaDB)
}
_MYSQL_REFERENCED = (1451, 1217)
_MYSQL_INVALID = (1264, 1265, 1292, 1366, 1367, 1406, 1411, 1690, 3140, 4078)
_MYSQL_TIMEOUT = (1205, 1969, 3024, 1317)  # lock wait, statement timeouts, interrupted
_MYSQL_CONFLICT = (1213,)  # ER_LOCK_DEADLOCK
_MYSQL_UNAVAILABLE = (1040, 1053, 1152, 1158, 1159, 1160, 1161, 1927, 2002, 2003, 2005, 2006)
_MYSQL_UNAVAILABLE_CLIENT = range(2000, 2100)  # client-side errors: connection lost or refused
_MYSQL_MODULES = ("pymysql.", "aiomysql.", "asyncmy.", "MySQLdb.")
# "Duplicate entry '...' for key 'heroes.name'" (MySQL 8 prefixes the table), "... key 'name'"
_MYSQL_KEY = re.compile(r"for key '(?:[^'.]+\.)?([^'.]+)'\s*$")
# "... CONSTRAINT `heroes_ibfk_1` FOREIGN KEY (`team_id`) REFERENCES ..."
_MYSQL_FK = re.compile(r"CONSTRAINT `([^`]+)` FOREIGN KEY \(([^)]*)\)")
# "Column 'name' cannot be null", "Field 'name' doesn't have a default value"
_MYSQL_COLUMN = re.compile(r"^(?:Column|Field) '([^']+)'")
# "Check constraint 'ck' is violated." (MySQL), "CONSTRAINT `ck` failed for ..." (MariaDB)
_MYSQL_CHECK = re.compile(r"^(?:Check constraint '([^']+)'|CONSTRAINT `([^`]+)` failed)")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# PostgreSQL's detail starts "Key (col_a, col_b)=(...)"; only the column list is kept.
_PG_KEY_COLUMNS = re.compile(r"^Key \(([^)]*)\)=")
# Unavailable means "try again later": lost connections, refused connections, a server
# shutting down or starting up, too many clients, out of memory or disk, an I/O error.
_PG_UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
# A statement cancelled by statement_timeout (or a cancel request), a lock_timeout.
_PG_TIMEOUT_STATES = ("57014", "55P03")
# A serialization failure or deadlock: the same transaction may well succeed if sent again.
_PG_CONFLICT_CLASS = "40"
_SQLITE_TIMEOUT_NAMES = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_INTERRUPT")
# Where exceptions of the database stack are raised; see `_raised_by_database`.
_DATABASE_MODULES = (
    "sqlalchemy.",
    "asyncpg.",
    "psycopg.",
    "psycopg_pool.",
    "aiosqlite.",
    "sqlite3.",
    "aiomysql.",
    "asyncmy.",
    "pymysql.",
)
_UNAVAILABLE_DETAILS: dict[UnavailableReason, str] = {
    "unavailable": "The database is unavailable; try again later",
    "timeout": "The database did not answer in time; try again later",
    "conflict": "The transaction met a concurrent one and was rolled back; try again",
}


class DatabaseError(Exception):
    """A failure the database reported while serving a request."""


@dataclass
class ConstraintViolation(DatabaseError):
    """A write broke a constraint; the transaction is rolled back.

    Attributes:
        kind: which kind of constraint, in words the detail uses.
        columns: the columns involved, where the driver reports them.
        constraint: the constraint's name, where the driver reports it.
        operation: ``"delete"`` when a delete broke a foreign key (the row is referenced).
    """

    kind: ConstraintKind
    columns: tuple[str, ...] = ()
    constraint: str | None = None
    operation: Operation = "write"

    def __str__(self) -> str:
        return self.detail

    def resolve(self, table: Any) -> None:
        """Name the columns from ``table`` (a SQLAlchemy `Table`) where the driver named only
        the constraint or index, as MySQL and MariaDB do for unique keys."""
        if self.columns or not self.constraint or self.kind not in ("unique", "unknown"):
            return
        for item in (*table.constraints, *table.indexes):
            if item.name == self.constraint:
                self.columns = tuple(column.name for column in item.columns)
                return
        column = table.columns.get(self.constraint)
        if column is not None and (column.unique or column.primary_key):
            # MySQL names an unnamed unique key after its column.
            self.columns = (column.name,)

    @property
    def detail(self) -> str:
        """A sentence that names the kind of constraint and, where known, the columns."""
        cols = ", ".join(self.columns)
        name = self.constraint
        if self.kind == "unique":
            if cols:
                return f"Unique constraint violated: another row already has this {cols}"
            return "Unique constraint violated" + (f": {name}" if name else "")
        if self.kind == "foreign_key":
            if self.operation == "delete":
                return "Foreign key constraint violated: the row is still referenced by other rows"
            if cols:
                return f"Foreign key constraint violated: {cols} does not refer to an existing row"
            return "Foreign key constraint violated: a referenced row does not exist"
        if self.kind == "not_null":
            if cols:
                return f"Not null constraint violated: {cols} must not be null"
            return "Not null constraint violated"
        if self.kind == "check":
            return "Check constraint violated" + (f": {name}" if name else "")
        if self.kind == "exclusion":
            return "Exclusion constraint violated" + (f": {name}" if name else "")
        return "Integrity constraint violated"


class InvalidValue(DatabaseError):
    """A value does not fit its column (too long, out of range, invalid characters)."""

    def __str__(self) -> str:
        return "A value is out of range, too long or otherwise invalid for its column"


class DatabaseUnavailable(DatabaseError):
    """The database could not be reached, or gave up on the statement; worth trying again.

    Attributes:
        reason: ``"unavailable"`` (cannot connect, connection lost, server shutting down or out
            of resources), ``"timeout"`` (a statement or lock timeout expired) or
            ``"conflict"`` (a serialization failure or deadlock rolled the transaction back).
    """

    def __init__(self, reason: UnavailableReason = "unavailable") -> None:
        super().__init__(reason)
        self.reason: UnavailableReason = reason

    def __str__(self) -> str:
        return _UNAVAILABLE_DETAILS[self.reason]

    def __repr__(self) -> str:
        return f"DatabaseUnavailable({self.reason!r})"


def _identifier(name: object) -> str | None:
    return name if isinstance(name, str) and _IDENTIFIER.match(name) else None


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo.extend([getattr(item, "orig", None), item.__cause__, item.__context__])


def _sqlstate(exc: BaseException) -> str | None:
    for item in _chain(exc):
        code = getattr(item, "sqlstate", None) or getattr(item, "pgcode", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def _mysql_error(exc: BaseException) -> tuple[int, str] | None:
    """The error number and message of a MySQL driver error in the chain (PyMySQL, aiomysql,
    asyncmy all raise ``Error(errno, message)``)."""
    for item in _chain(exc):
        module = type(item).__module__ + "."
        if module.startswith(_MYSQL_MODULES) and len(item.args) >= 2:
            errno, message = item.args[0], item.args[1]
            if isinstance(errno, int) and not isinstance(errno, bool):
                return errno, str(message)
    return None


def _mysql_unavailable(errno: int) -> DatabaseUnavailable | None:
    if errno in _MYSQL_TIMEOUT:
        return DatabaseUnavailable("timeout")
    if errno in _MYSQL_CONFLICT:
        return DatabaseUnavailable("conflict")
    if errno in _MYSQL_UNAVAILABLE or errno in _MYSQL_UNAVAILABLE_CLIENT:
        return DatabaseUnavailable()
    return None


def _mysql_translate(
    errno: int, message: str, operation: Operation, statement: str | None
) -> DatabaseError | None:
    kind = _MYSQL_KINDS.get(errno)
    if kind is None:
        if errno in _MYSQL_INVALID:
            return InvalidValue()
        return _mysql_unavailable(errno)
    columns: tuple[str, ...] = ()
    constraint: str | None = None
    if kind == "unique":
        match = _MYSQL_KEY.search(message)
        constraint = _identifier(match.group(1)) if match else None
        if constraint == "PRIMARY":
            constraint = None
        elif constraint and statement and re.search(rf"\b{constraint}\b", statement):
            # An unnamed unique index takes the name of its (first) column; the router
            # resolves named ones from the table (see `ConstraintViolation.resolve`).
            columns = (constraint,)
    elif kind == "foreign_key":
        match = _MYSQL_FK.search(message)
        if match:
            constraint = _identifier(match.group(1))
            names = tuple(p.strip().strip("`") for p in match.group(2).split(","))
            if all(_identifier(n) for n in names):
                columns = names
        if errno in _MYSQL_REFERENCED:
            operation = "delete"
            columns = ()
    elif kind == "not_null":
        match = _MYSQL_COLUMN.search(message)
        column = _identifier(match.group(1)) if match else None
        columns = (column,) if column else ()
    elif kind == "check":
        match = _MYSQL_CHECK.search(message)
        if match:
            constraint = _identifier(match.group(1) or match.group(2))
    return ConstraintViolation(kind, columns, constraint, operation)


def _raised_by_database(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it chains) was raised in SQLAlchemy or a driver."""
    for item in _chain(exc):
        tb = item.__traceback__
        while tb is not None:
            module = tb.tb_frame.f_globals.get("__name__", "")
            if isinstance(module, str) and (module + ".").startswith(_DATABASE_MODULES):
                return True
            tb = tb.tb_next
    return False


def _unavailable_state(state: str) -> DatabaseUnavailable | None:
    if state in _PG_TIMEOUT_STATES:
        return DatabaseUnavailable("timeout")
    if state.startswith(_PG_CONFLICT_CLASS):
        return DatabaseUnavailable("conflict")
    if state.startswith(_PG_UNAVAILABLE_CLASSES):
        return DatabaseUnavailable()
    return None


def _sqlite_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    for item in _chain(exc):
        if isinstance(item, sqlite3.OperationalError):
            # SQLITE_BUSY: the busy timeout expired waiting for a lock ("database is locked");
            # SQLITE_INTERRUPT: Database(statement_timeout=...) interrupted the statement.
            if getattr(item, "sqlite_errorname", "") in _SQLITE_TIMEOUT_NAMES:
                return DatabaseUnavailable("timeout")
    return None


def _translate_raw(exc: BaseException) -> DatabaseError | None:
    """A driver exception or `OSError` that reached the application without SQLAlchemy's
    wrapping, as when the pool connects or a driver rejects a value before sending it."""
    if not _raised_by_database(exc):
        return None
    mysql = _mysql_error(exc)
    if mysql is not None:
        # As for SQLSTATEs below: constraint violations arrive wrapped by SQLAlchemy.
        return InvalidValue() if mysql[0] in _MYSQL_INVALID else _mysql_unavailable(mysql[0])
    state = _sqlstate(exc)
    if state is not None:
        if state.startswith("22"):
            return InvalidValue()
        return _unavailable_state(state)
    if isinstance(exc, TimeoutError):
        return DatabaseUnavailable("timeout")
    if isinstance(exc, OSError):
        return DatabaseUnavailable()
    if isinstance(exc, UnicodeEncodeError):
        # A lone surrogate ("\ud800" in JSON) cannot be encoded for the database.
        return InvalidValue()
    return None


def _pg_violation(
    exc: BaseException, kind: ConstraintKind, operation: Operation
) -> ConstraintViolation:
    constraint: str | None = None
    columns: tuple[str, ...] = ()
    for item in _chain(exc):
        # asyncpg puts these on the exception, psycopg on its ``diag``.
        source = getattr(item, "diag", item)
        constraint = constraint or _identifier(getattr(source, "constraint_name", None))
        column = _identifier(getattr(source, "column_name", None))
        if column and not columns:
            columns = (column,)
        detail = getattr(source, "detail", None) or getattr(source, "message_detail", None)
        if isinstance(detail, str) and not columns:
            match = _PG_KEY_COLUMNS.match(detail)
            if match:
                names = tuple(p.strip().strip('"') for p in match.group(1).split(","))
                if all(_identifier(n) for n in names):
                    columns = names
    return ConstraintViolation(kind, columns, constraint, operation)


def _sqlite_violation(error: sqlite3.Error, operation: Operation) -> ConstraintViolation:
    name = getattr(error, "sqlite_errorname", "")
    kind = _SQLITE_KINDS.get(name, "unknown")
    message = str(error.args[0]) if error.args else ""
    # sqlite3 only words the details: "UNIQUE constraint failed: heroes.name, heroes.team_id".
    _, _, tail = message.partition(" constraint failed: ")
    columns: tuple[str, ...] = ()
    constraint: str | None = None
    if tail and kind in ("unique", "not_null"):
        names = tuple(part.strip().rpartition(".")[2] for part in tail.split(","))
        if all(_identifier(n) for n in names):
            columns = names
    elif tail and kind == "check":
        constraint = _identifier(tail.strip())
    return ConstraintViolation(kind, columns, constraint, operation)


def translate_error(exc: BaseException, operation: Operation = "write") -> DatabaseError | None:
    """Translate a database exception into a `DatabaseError`, or ``None`` if it is not one.

    Args:
        exc: what SQLAlchemy or the driver raised.
        operation: ``"delete"`` words a foreign key violation as "still referenced".

    Example:
        >>> translate_error(OverflowError("Python int too large to convert to SQLite INTEGER"))
        InvalidValue()
        >>> translate_error(ValueError("not from the database")) is None
        True
    """
    if isinstance(exc, DatabaseError):
        return exc
    if isinstance(exc, OverflowError):
        # sqlite3 refuses integers beyond 64 bits before the statement reaches the database.
        return InvalidValue()
    if not isinstance(exc, sa_exc.SQLAlchemyError):
        return _translate_raw(exc)
    mysql = _mysql_error(exc)
    if mysql is not None:
        statement = getattr(exc, "statement", None)
        translated = _mysql_translate(*mysql, operation, statement)
        if translated is not None:
            return translated
        if isinstance(exc, sa_exc.IntegrityError):
            return ConstraintViolation("unknown", operation=operation)
    state = _sqlstate(exc)
    if isinstance(exc, sa_exc.IntegrityError):
        if state is not None:
            return _pg_violation(exc, _PG_KINDS.get(state, "unknown"), operation)
        if isinstance(exc.orig, sqlite3.Error):
            return _sqlite_violation(exc.orig, operation)
        return ConstraintViolation("unknown", operation=operation)
    if state is not None and state.startswith("22"):
        return InvalidValue()
    if isinstance(exc, sa_exc.DataError):
        return InvalidValue()
    if state is not None:
        unavailable = _unavailable_state(state)
        if unavailable is not None:
            return unavailable
    if isinstance(exc, sa_exc.TimeoutError):
        # The pool had no connection to give within its timeout.
        return DatabaseUnavailable("timeout")
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return DatabaseUnavailable()
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return _sqlite_unavailable(exc) or DatabaseUnavailable()
    if isinstance(exc, sa_exc.InvalidRequestError) and "reconnect until invalid transaction" in str(
        exc
    ):
        return DatabaseUnavailable()
    return None


def to_http_exception(error: DatabaseError) -> HTTPException | RequestValidationError:
    """Map a `DatabaseError` to the HTTP error a client receives.

    A `DatabaseUnavailable` is a 503 with a ``Retry-After`` header and a detail that says
    whether the database was unreachable, too slow, or rolled back a conflicting transaction.
    """
    if isinstance(error, ConstraintViolation):
        return HTTPException(status_code=409, detail=error.detail)
    if isinstance(error, InvalidValue):
        return RequestValidationError(
            [{"type": "value_error", "loc": ("body",), "msg": str(error), "input": None}]
        )
    return HTTPException(
        status_code=503, detail=str(error), headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )
