"""Page-number paging (``?page=2`` beside ``limit``): pure arithmetic and checks.

Shared by the generated list route and `new_pagination`, so both answer the same way. Nothing
here touches FastAPI: a `PagingError` names the query parameter at fault, and the caller turns it
into its 422 (`PagingError.to_validation_error`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError

from ._spec import query_error

PAGE_DESCRIPTION = (
    "Page number, from 1: the page starts after (page - 1) × limit rows. "
    "Not with `offset` or `cursor`. The answer then holds `page`, and `pages` when counted."
)
"""The OpenAPI description of the ``page`` query parameter."""


class PagingError(ValueError):
    """A paging parameter a client sent that cannot be served.

    Args:
        param: the query parameter at fault (``page``, ``offset``, ``cursor``).
        message: what is wrong, for the client.
        value: the value sent.
    """

    def __init__(self, param: str, message: str, value: Any = None) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message
        self.value = value

    def to_validation_error(self) -> RequestValidationError:
        """The 422 in FastAPI's shape, with ``loc`` naming the query parameter."""
        return query_error(self.param, self.message, self.value)


@dataclass(frozen=True)
class PageWindow:
    """Where a page starts: ``offset`` (None on a cursor page) and the ``page`` asked for."""

    offset: int | None
    page: int | None = None


def page_offset(page: int, limit: int) -> int:
    """The offset of page number ``page`` (from 1) of ``limit`` items: ``(page - 1) * limit``."""
    return (page - 1) * limit


def page_count(total: int | None, limit: int) -> int | None:
    """How many pages of ``limit`` items ``total`` rows fill: ``ceil(total / limit)``; None when
    not counted. No rows make zero pages."""
    if total is None:
        return None
    return -(-total // limit)


def last_page_served(limit: int, max_offset: int) -> int:
    """The highest ``page`` whose offset stays within ``max_offset``."""
    return max_offset // limit + 1


def resolve_window(
    *, limit: int, offset: int | None, page: int | None, cursor: str | None, max_offset: int
) -> PageWindow:
    """Check how a request pages and say where its page starts.

    ``page`` goes with neither ``offset`` nor ``cursor``; ``offset`` does not go with
    ``cursor``; neither an offset nor a page may start past ``max_offset``.

    Raises:
        PagingError: naming the parameter at fault.
    """
    if page is not None:
        if page < 1:
            raise PagingError("page", "page must be at least 1", page)
        if offset is not None:
            raise PagingError("page", "use either page or offset, not both", page)
        if cursor is not None:
            raise PagingError("page", "use either page or cursor, not both", page)
        start = page_offset(page, limit)
        if start > max_offset:
            raise PagingError(
                "page",
                f"page may be at most {last_page_served(limit, max_offset)} with "
                f"limit={limit}; to go deeper, follow next_cursor (cursor paging)",
                page,
            )
        return PageWindow(start, page)
    if cursor is not None and offset is not None:
        raise PagingError("offset", "use either offset or cursor, not both", offset)
    if offset is not None and offset < 0:
        raise PagingError("offset", "offset must be at least 0", offset)
    if offset is not None and offset > max_offset:
        raise PagingError(
            "offset",
            f"offset may be at most {max_offset}; to go deeper, follow next_cursor (cursor paging)",
            offset,
        )
    return PageWindow(None if cursor is not None else (offset or 0))
