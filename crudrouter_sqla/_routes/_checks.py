"""What the ``scope`` and ``stamp`` dependencies give, checked per request: a mistake only a
request can show is a 500 whose log line names the option and the mistake, logged once."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException
from sqlalchemy import ColumnElement, Table

logger = logging.getLogger("crudrouter_sqla")
_logged: set[tuple[int, str]] = set()


def misconfigured(owner: object, router: str, option: str, mistake: str) -> HTTPException:
    """The 500 of a router option that gave something it cannot use, logged once per router
    (``owner``) and mistake."""
    message = f"{router}: {option} {mistake}"
    if (id(owner), message) not in _logged:
        _logged.add((id(owner), message))
        logger.error("misconfigured router option: %s", message)
    return HTTPException(status_code=500, detail="Internal Server Error")


def checked_scope(owner: object, router: str, table: Table, clause: Any) -> Any:
    """The ``scope``'s clause: a SQL boolean over the router's own table (a subquery such as
    EXISTS may reach others), or None."""
    if clause is None:
        return None
    if not isinstance(clause, ColumnElement):
        raise misconfigured(
            owner, router, "scope", f"returned {type(clause).__name__}, not a SQLAlchemy clause"
        )
    others = sorted(
        getattr(source, "name", str(source))
        for source in clause._from_objects
        if source is not table
    )
    if others:
        # A column of another table would join it to every row: rows would multiply.
        raise misconfigured(
            owner,
            router,
            "scope",
            f"compares columns of {', '.join(others)}, not of {table.name}; reach other "
            f"tables through a subquery (EXISTS)",
        )
    return clause


def checked_stamp(
    owner: object, router: str, columns: dict[str, Any], stamp: Any
) -> dict[str, Any]:
    """The ``stamp``'s values: a mapping of column attribute names."""
    if not isinstance(stamp, dict):
        raise misconfigured(
            owner, router, "stamp", f"returned {type(stamp).__name__}, not a dict of column values"
        )
    unknown = sorted(str(key) for key in stamp if key not in columns)
    if unknown:
        raise misconfigured(
            owner, router, "stamp", f"returned names that are not columns: {', '.join(unknown)}"
        )
    return stamp
