"""Response bodies, written once as JSON bytes by adapters built with the router."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter

from ._pagination import Page


class Serializer:
    """Turns rows or ORM objects into the JSON bytes of one item or of a `Page`.

    Rows come from the database, so they are validated by attribute (``from_attributes``) and
    dumped in one pass; the route's ``response_model`` still documents the schema.
    """

    def __init__(self, schema: type[BaseModel]) -> None:
        self.item = TypeAdapter(schema)
        self.page = TypeAdapter(Page[schema])  # type: ignore[valid-type]

    def one(self, row: Any) -> bytes:
        """The JSON of one item."""
        return self.item.dump_json(self.item.validate_python(row, from_attributes=True))

    def many(self, rows: Sequence[Any], total: int | None, limit: int, offset: int) -> bytes:
        """The JSON of a page."""
        page = self.page.validate_python(
            {"items": rows, "total": total, "limit": limit, "offset": offset},
            from_attributes=True,
        )
        return self.page.dump_json(page)
