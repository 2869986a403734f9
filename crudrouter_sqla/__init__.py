"""crudrouter_sqla: a generic CRUD router factory for FastAPI over async SQLAlchemy 2.x."""

from ._model import strict_json
from ._query import Page
from ._router import CRUDRouter, RouteSwitch
from .core import (
    ConstraintViolation,
    Database,
    DatabaseError,
    DatabaseUnavailable,
    InvalidValue,
    Session,
)
from .errors import ConfigurationError, ErrorResponse

__all__ = [
    "CRUDRouter",
    "ConfigurationError",
    "ConstraintViolation",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "ErrorResponse",
    "InvalidValue",
    "Page",
    "RouteSwitch",
    "Session",
    "strict_json",
]
