"""Response bodies, written once as JSON bytes by adapters built with the router."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, create_model

from .._query import Page

_MAX_SUBSETS = 128


class Serializer:
    """Turns rows or ORM objects into the JSON bytes of one item or of a `Page`.

    Rows come from the database, so they are validated by attribute (``from_attributes``) and
    dumped in one pass; the route's ``response_model`` still documents the schema.
    """

    def __init__(self, schema: type[BaseModel]) -> None:
        self.schema = schema
        self.item = TypeAdapter(schema)
        self.items = TypeAdapter(list[schema])  # type: ignore[valid-type]
        self.page = TypeAdapter(Page[schema])  # type: ignore[valid-type]
        self._subsets: dict[tuple[str, ...], TypeAdapter[Any]] = {}

    def one(self, row: Any) -> bytes:
        """The JSON of one item."""
        return self.item.dump_json(self.item.validate_python(row, from_attributes=True))

    def validate(self, row: Any) -> BaseModel:
        """One row as the read schema."""
        item: BaseModel = self.item.validate_python(row, from_attributes=True)
        return item

    def dump(self, item: BaseModel) -> bytes:
        """The JSON of a read-schema item."""
        return self.item.dump_json(item)

    def many_items(self, rows: Sequence[Any]) -> bytes:
        """The JSON list of several rows."""
        return self.items.dump_json(self.items.validate_python(rows, from_attributes=True))

    def dump_list(self, items: Sequence[BaseModel]) -> bytes:
        """The JSON list of read-schema items."""
        return self.items.dump_json(list(items))

    def many(
        self,
        rows: Sequence[Any],
        total: int | None,
        limit: int,
        offset: int | None,
        next_cursor: str | None = None,
        fields: tuple[str, ...] | None = None,
        numbers: tuple[int, int | None] | None = None,
    ) -> bytes:
        """The JSON of a page; with ``fields``, items hold only those fields; ``numbers`` are
        the page number and the number of pages of page-number paging."""
        adapter = self.page if fields is None else self._subset_page(fields)
        page = adapter.validate_python(
            {
                "items": rows,
                "total": total,
                "limit": limit,
                "offset": offset,
                "next_cursor": next_cursor,
                "page": None if numbers is None else numbers[0],
                "pages": None if numbers is None else numbers[1],
            },
            from_attributes=True,
        )
        return adapter.dump_json(page)

    def _subset_page(self, fields: tuple[str, ...]) -> TypeAdapter[Any]:
        adapter = self._subsets.get(fields)
        if adapter is None:
            model_fields = self.schema.model_fields
            definitions: dict[str, Any] = {
                name: (model_fields[name].annotation, model_fields[name]) for name in fields
            }
            subset: Any = create_model(
                f"{self.schema.__name__}Fields",
                __config__=self.schema.model_config,
                **definitions,
            )
            adapter = TypeAdapter(Page[subset])
            if len(self._subsets) < _MAX_SUBSETS:
                self._subsets[fields] = adapter
        return adapter
