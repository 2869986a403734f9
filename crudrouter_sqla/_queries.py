"""The SQL of a resource, built once when the router is built."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Select, bindparam, delete, func, insert, select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import RelationshipProperty
from sqlalchemy.sql.dml import ReturningDelete, ReturningInsert, ReturningUpdate

from ._filters import Clause
from ._listing import Sort
from ._model import ModelInfo

VERSION_LABEL = "_version"
_MAX_CACHED = 256


class Queries:
    """Statements for one resource.

    When every field of the read schema is a column, reads select just those columns as plain
    rows; otherwise (properties, relationships) they load ORM objects. ``where`` arguments carry
    the router's scope (the caller's rows only).
    """

    def __init__(self, info: ModelInfo, read_fields: Sequence[str]) -> None:
        self.info = info
        self.pk = info.pk_column
        self.read_keys = [name for name in read_fields if name in info.columns]
        self.uses_orm = any(name not in info.columns for name in read_fields)
        self.columns = [info.columns[name].label(name) for name in self.read_keys]
        self.version = info.columns[info.version_key] if info.version_key else None
        self.orm_delete = any(
            isinstance(rel, RelationshipProperty) and rel.cascade.delete
            for rel in info.model.__mapper__.relationships
        )
        extra = [] if self.version is None else [self.version.label(VERSION_LABEL)]
        self._returning: list[Any] = ([self.pk] if self.uses_orm else self.columns) + extra
        self._select: Select[Any] = (
            select(info.model, *extra) if self.uses_orm else select(*self.columns, *extra)
        ).select_from(info.table)
        self._exists: Select[Any] = select(self.pk).select_from(info.table)
        # Built once: its compiled form and cache key are reused by every request.
        self._one_by_key = self._select.where(self.pk == bindparam("item_id"))
        self._count: Select[Any] = select(func.count()).select_from(info.table)
        self._pages: dict[tuple[str, Sequence[str] | None, bool], Select[Any]] = {}

    def one(self, item_id: Any, where: Sequence[Clause] = ()) -> tuple[Select[Any], Any]:
        """Select one row (or ORM object) by primary key: the statement and its parameters."""
        if where:
            return self._select.where(self.pk == item_id, *where), None
        return self._one_by_key, {"item_id": item_id}

    def orm_one(self, item_id: Any, where: Sequence[Clause] = ()) -> Select[Any]:
        """Select one ORM object by primary key."""
        return select(self.info.model).where(self.pk == item_id, *where)

    def exists(self, item_id: Any, where: Sequence[Clause] = ()) -> Select[Any]:
        """Select the key of one row, to tell a missing row from a stale version."""
        return self._exists.where(self.pk == item_id, *where)

    def page_select(
        self,
        fields: Sequence[str] | None,
        sort: Sort,
        where: Sequence[Clause],
        offset: int,
        limit: int,
    ) -> tuple[Select[Any], dict[str, int]]:
        """One page and one row more (to tell whether a next page exists), and its parameters.

        Rows carry the sort key values as ``_k0``, ``_k1``... for the next cursor. The statement
        for each sort and field set is built once; a request adds only its own conditions.
        """
        key = (sort.spelling, fields, offset > 0)
        statement = self._pages.get(key)
        if statement is None:
            statement = self._build_page(fields, sort, offset > 0)
            if len(self._pages) < _MAX_CACHED:
                self._pages[key] = statement
        if where:
            statement = statement.where(*where)
        return statement, {"page_limit": limit + 1, "page_offset": offset}

    def _build_page(self, fields: Sequence[str] | None, sort: Sort, offset: bool) -> Select[Any]:
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
            .order_by(*sort.order_by())
            .limit(bindparam("page_limit"))
        )
        return statement.offset(bindparam("page_offset")) if offset else statement

    def count(self, where: Sequence[Clause]) -> Select[Any]:
        """Count the rows that match ``where``."""
        return self._count.where(*where) if where else self._count

    def _row(self, values: dict[str, Any]) -> dict[Any, Any]:
        return {self.info.columns[key]: value for key, value in values.items()}

    def insert(self, values: dict[str, Any]) -> ReturningInsert[Any]:
        """Insert a row from attribute values, returning the read columns (or the key)."""
        row = self._row(values)
        generator = self.info.version_generator
        if self.version is not None and generator is not None:
            row[self.version] = generator(None)
        return insert(self.info.table).values(row).returning(*self._returning)

    def update(
        self,
        item_id: Any,
        values: dict[str, Any],
        where: Sequence[Clause] = (),
        versions: Sequence[Any] | None = None,
    ) -> ReturningUpdate[Any]:
        """Update one row by key; with ``versions``, only while its version is one of them."""
        row = self._row(values)
        conditions = [self.pk == item_id, *where]
        if self.version is not None:
            if versions is not None:
                conditions.append(self.version.in_(versions))
            generator = self.info.version_generator
            if generator is not None:
                if isinstance(self.version.type, Integer):
                    # Counted in SQL, so concurrent writers each get their own version.
                    row[self.version] = self.version + 1
                else:
                    row[self.version] = generator(versions[0] if versions else None)
        return sa_update(self.info.table).where(*conditions).values(row).returning(*self._returning)

    def delete(
        self, item_id: Any, where: Sequence[Clause] = (), versions: Sequence[Any] | None = None
    ) -> ReturningDelete[Any]:
        """Delete one row by key, returning its key."""
        conditions = [self.pk == item_id, *where]
        if self.version is not None and versions is not None:
            conditions.append(self.version.in_(versions))
        return delete(self.info.table).where(*conditions).returning(self.pk)
