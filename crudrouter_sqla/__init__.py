"""crudrouter_sqla: a generic CRUD router factory for FastAPI over async SQLAlchemy 2.x."""

from ._guard import Tenancy
from ._hooks import Hooks
from ._model import strict_json, write_schema
from ._paginate import Paginate, Paginator, new_pagination
from ._query import Aggregates, Page
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
    "Aggregates",
    "CRUDRouter",
    "ConfigurationError",
    "ConstraintViolation",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "ErrorResponse",
    "Hooks",
    "InvalidValue",
    "Page",
    "Paginate",
    "Paginator",
    "RouteSwitch",
    "Session",
    "Tenancy",
    "new_pagination",
    "strict_json",
    "write_schema",
]

__version__ = "0.1.0"
"""The version of this package; the build reads it from here."""
