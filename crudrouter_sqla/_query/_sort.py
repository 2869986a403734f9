"""Sorting: the keys of an ORDER BY, with the primary key as the final tiebreaker, and the
keyset condition that continues after a row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, false, or_, tuple_

from .._model import Joins, ModelInfo, python_type
from .._model._relations import embedded_schema
from ..errors import ConfigurationError
from ._dialects import NullsOrdered
from ._filters import Clause, resolve_target


@dataclass(frozen=True)
class SortKey:
    """One column of an ORDER BY: ascending puts nulls last, descending puts them first."""

    name: str
    column: ColumnElement[Any]
    descending: bool
    value_type: type[Any]
    nullable: bool
    joins: tuple[str, ...] = ()
    shown: bool = True
    """Whether the read schema shows the field; a cursor carries only values it shows."""

    def order(self) -> ColumnElement[Any]:
        if self.nullable:
            return NullsOrdered(self.column, self.descending)  # MySQL spells it differently
        return self.column.desc() if self.descending else self.column.asc()

    def after(self, value: Any) -> Clause | None:
        """Rows that come after ``value`` in this key's order (None: no row does)."""
        col = self.column
        if self.descending:
            if value is None:
                return col.is_not(None)
            before: Clause = col < value
            return before
        if value is None:
            return None
        after: Clause = or_(col > value, col.is_(None)) if self.nullable else col > value
        return after

    def same(self, value: Any) -> Clause:
        return self.column.is_(None) if value is None else self.column == value


@dataclass(frozen=True)
class Sort:
    """A parsed ``sort`` parameter with the primary key appended as the final tiebreaker."""

    spelling: str
    keys: tuple[SortKey, ...]

    def order_by(self) -> list[ColumnElement[Any]]:
        return [key.order() for key in self.keys]

    @property
    def joins(self) -> tuple[str, ...]:
        """The joins the sort keys need (to-one relationship paths)."""
        return tuple(j for key in self.keys for j in key.joins)

    @property
    def hidden(self) -> tuple[int, ...]:
        """The positions of keys the read schema does not show (a cursor leaves them out)."""
        return tuple(i for i, key in enumerate(self.keys) if not key.shown)

    def after(self, values: Sequence[Any]) -> Clause:
        """Rows after the row whose key values are ``values`` (keyset pagination)."""
        keys = self.keys
        if all(not k.nullable for k in keys) and len({k.descending for k in keys}) == 1:
            # One row-value comparison lets the database seek an index.
            left = tuple_(*[k.column for k in keys])
            right = tuple_(*values)
            return left < right if keys[0].descending else left > right
        branches: list[Clause] = []
        for i, key in enumerate(keys):
            step = key.after(values[i])
            if step is None:
                continue
            same = [k.same(v) for k, v in zip(keys[:i], values[:i], strict=True)]
            branches.append(and_(*same, step) if same else step)
        return or_(*branches) if branches else false()


def build_sort_keys(
    info: ModelInfo,
    joins: Joins,
    read_fields: Sequence[str],
    sort_fields: Sequence[str] | None,
    schema: type[BaseModel] | None = None,
) -> dict[str, SortKey]:
    """The allowed sort fields, as ascending keys: given (columns or to-one paths such as
    ``team.name``), or every scalar column of the read schema.

    A cursor carries the sort values of the last row of its page that the read ``schema``
    shows (a column field, or a path through embedded relationships to a field of the embedded
    schema); a field it does not show is marked so that cursors leave its value out.
    """
    if isinstance(sort_fields, str) or not isinstance(sort_fields, Sequence | None):
        raise ConfigurationError(
            f"sort_fields must be a list of field names, got {sort_fields!r}; for example "
            f"[{sort_fields!r}]"
        )
    names = [n for n in read_fields if n in info.columns] if sort_fields is None else sort_fields
    result: dict[str, SortKey] = {}
    for name in names:
        target = resolve_target(info, joins, name, "sort_fields")
        if target.path is not None and target.path.to_many:
            raise ConfigurationError(
                f"sort_fields names {name!r}, a path through a to-many relationship; only "
                f"columns and to-one paths can be sorted on"
            )
        nullable = target.path is not None or bool(target.source.nullable)
        value_type = python_type(target.source) or str
        shown = schema is None or shows(schema, name)
        result[name] = SortKey(
            name, target.column, False, value_type, nullable, target.joins, shown
        )
    return result


def shows(schema: type[BaseModel], spelling: str) -> bool:
    """Whether a read schema shows a field, or a dotted path through embedded schemas."""
    parts = spelling.split(".")
    current = schema
    for part in parts[:-1]:
        field = current.model_fields.get(part)
        found = None if field is None else embedded_schema(field.annotation)
        if found is None or found[1]:
            return False
        current = found[0]
    return parts[-1] in current.model_fields
