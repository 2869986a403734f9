"""The core package: one `Database` per database, and the session every route shares.

It depends on SQLAlchemy and FastAPI only and can be used without the router.
"""

from ._database import Database, DatabaseConnectionError, Lifespan, SessionDependency
from ._default import Session, default_database, default_session, lifespan
from ._errors import (
    ConstraintViolation,
    DatabaseError,
    DatabaseUnavailable,
    InvalidValue,
    to_http_exception,
    translate_error,
)

__all__ = [
    "ConstraintViolation",
    "Database",
    "DatabaseConnectionError",
    "DatabaseError",
    "DatabaseUnavailable",
    "InvalidValue",
    "Lifespan",
    "Session",
    "SessionDependency",
    "default_database",
    "default_session",
    "lifespan",
    "to_http_exception",
    "translate_error",
]
