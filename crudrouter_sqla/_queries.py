"""The SQL of a resource, built once when the router is built."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, insert, select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import RelationshipProperty
from sqlalchemy.sql.dml import ReturningDelete, ReturningInsert, ReturningUpdate

from ._filters import Clause
from ._listing import Sort
from ._model import ModelInfo


class Queries:
    """Statements for one resource.

    When every field of the read schema is a column, reads select just those columns as plain
    rows; otherwise (properties, relationships) they load ORM objects.
    """

    def __init__(self, info: ModelInfo, read_fields: Sequence[str]) -> None:
        self.info = info
        self.pk = info.pk_column
        self.read_keys = [name for name in read_fields if name in info.columns]
        self.uses_orm = any(name not in info.columns for name in read_fields)
        self.columns = [info.columns[name].label(name) for name in self.read_keys]
        self.orm_delete = any(
            isinstance(rel, RelationshipProperty) and rel.cascade.delete
            for rel in info.model.__mapper__.relationships
        )
        self._select: Select[Any] = (
            select(info.model) if self.uses_orm else select(*self.columns)
        ).select_from(info.table)

    def one(self, item_id: Any) -> Select[Any]:
        """Select one row (or ORM object) by primary key."""
        return self._select.where(self.pk == item_id)

    def page_select(
        self,
        fields: Sequence[str] | None,
        sort: Sort,
        where: Sequence[Clause],
        offset: int,
        limit: int,
    ) -> Select[Any]:
        """One page and one row more (to tell whether a next page exists).

        Rows carry the sort key values as ``_k0``, ``_k1``... for the next cursor.
        """
        if self.uses_orm:
            entities: list[Any] = [self.info.model]
        elif fields is None:
            entities = list(self.columns)
        else:
            entities = [self.info.columns[name].label(name) for name in fields]
        keys = [key.column.label(f"_k{i}") for i, key in enumerate(sort.keys)]
        statement = (
            select(*entities, *keys)
            .select_from(self.info.table)
            .where(*where)
            .order_by(*sort.order_by())
        )
        if offset:
            statement = statement.offset(offset)
        return statement.limit(limit + 1)

    def returning(self) -> Sequence[Any]:
        """What a write returns: the read columns, or only the key when reads use the ORM."""
        return [self.pk] if self.uses_orm else self.columns

    def insert(self, values: dict[str, Any]) -> ReturningInsert[Any]:
        """Insert a row from attribute values, returning what `returning` names."""
        row = {self.info.columns[key]: value for key, value in values.items()}
        return insert(self.info.table).values(row).returning(*self.returning())

    def update(self, item_id: Any, values: dict[str, Any]) -> ReturningUpdate[Any]:
        """Update one row by primary key, returning what `returning` names."""
        row = {self.info.columns[key]: value for key, value in values.items()}
        return (
            sa_update(self.info.table)
            .where(self.pk == item_id)
            .values(row)
            .returning(*self.returning())
        )

    def delete(self, item_id: Any) -> ReturningDelete[Any]:
        """Delete one row by primary key, returning its key."""
        return delete(self.info.table).where(self.pk == item_id).returning(self.pk)
