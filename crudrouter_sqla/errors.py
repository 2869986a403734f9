"""Errors of the router package.

The tree::

    ConfigurationError        a router was built with options that cannot work (raised at once)
    core.DatabaseError        failures the database reported (see `crudrouter_sqla.core`)
     ├── ConstraintViolation  -> 409
     ├── InvalidValue         -> 422
     └── DatabaseUnavailable  -> 503

HTTP errors reach clients as FastAPI's ``{"detail": ...}``.
"""

from __future__ import annotations

from fastapi import HTTPException
from pydantic import BaseModel


class ConfigurationError(ValueError):
    """A `CRUDRouter` was given options that cannot work; raised when the router is built."""


class ErrorResponse(BaseModel):
    """The body of a 404, 409, 412 or 503: ``{"detail": "..."}``."""

    detail: str


def not_found(resource: str, item_id: object) -> HTTPException:
    """The 404 for a missing row, naming the resource and the id."""
    return HTTPException(status_code=404, detail=f"{resource} {item_id} not found")
