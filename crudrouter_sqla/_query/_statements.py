"""The SQL of a resource, built once when the router is built."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BinaryExpression,
    BindParameter,
    ClauseElement,
    Column,
    Integer,
    Select,
    bindparam,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import lazyload
from sqlalchemy.sql import operators
from sqlalchemy.sql.dml import (
    Delete,
    Insert,
    ReturningDelete,
    ReturningUpdate,
    Update,
)

from .._model import Embed, Joins, ModelInfo, Restriction, SoftDelete
from ._filters import Clause
from ._sort import Sort

VERSION_LABEL = "_version"
KEY_LABEL = "_key"
_MAX_CACHED = 256
_SELECT_KEY = "key"
"""Names of the key parameters of the prebuilt SELECT of one row."""
_UPDATE_KEY = "crudrouter_sqla_key"
"""Names of the key parameters of the prebuilt UPDATE (apart from any column's name)."""
_TENANT = "crudrouter_sqla_tenant"
"""Name of the tenant parameter of the prebuilt statements of a router with a tenancy."""


class Queries:
    """Statements for one resource.

    When every field of the read schema is a column, reads select just those columns as plain
    rows; otherwise (properties, relationships) they load ORM objects, with the embedded
    relationships loaded eagerly (a join for to-one, one ``SELECT ... IN`` per collection) and
    every other relationship lazily. ``where`` arguments carry the router's scope (the caller's
    rows only); ``joins`` name the to-one relationship paths a request's conditions use.

    With ``tenant`` (the model's tenant column under the router's tenancy), the one-row, page
    and count statements are also built with ``tenant = :tenant``: a request's
    ``tenant == value`` condition becomes that parameter, so the statement and its compiled
    form are reused rather than built for every request.
    """

    def __init__(
        self,
        info: ModelInfo,
        read_fields: Sequence[str],
        embeds: Sequence[Embed] = (),
        joins: Joins | None = None,
        soft: SoftDelete | None = None,
        tenant: Column[Any] | None = None,
    ) -> None:
        self.info = info
        self.tenant = tenant
        self.pk = info.pk_column
        self.key_columns = [part.column for part in info.key]
        self.soft = soft
        self.joins = joins or Joins(info.model.__mapper__)
        self.embeds = {embed.key: embed for embed in embeds}
        self.read_keys = [name for name in read_fields if name in info.columns]
        self.uses_orm = any(name not in info.columns for name in read_fields)
        self.columns = [info.columns[name].label(name) for name in self.read_keys]
        self.version = info.columns[info.version_key] if info.version_key else None
        # Cascades and association rows of many-to-many collections are written by the ORM.
        self.orm_delete = any(
            not rel.viewonly and (rel.cascade.delete or rel.secondary is not None)
            for rel in info.relationships.values()
        )
        extra = [] if self.version is None else [self.version.label(VERSION_LABEL)]
        key = [c.label(f"{KEY_LABEL}{i}") for i, c in enumerate(self.key_columns)]
        self._returning: list[Any] = (key if self.uses_orm else [*self.columns, *key]) + extra
        self._select: Select[Any] = (
            select(info.model, *extra).options(*self.loaders(None))
            if self.uses_orm
            else select(*self.columns, *extra)
        ).select_from(info.table)
        self._exists: Select[Any] = select(self.pk).select_from(info.table)
        self._alive = [] if soft is None else [soft.alive()]
        self._count: Select[Any] = select(func.count()).select_from(info.table)
        self._in_tenant = [] if tenant is None else [tenant == bindparam(_TENANT)]
        self._pages: dict[tuple[str, Sequence[str] | None, bool, bool], Any] = {}

    # Built once, on first use: their compiled forms and cache keys are reused by every
    # request (and a router whose routes never need one does not build it).
    @functools.cached_property
    def _one_by_key(self) -> Select[Any]:
        return self._select.where(*self._by_key_param(_SELECT_KEY), *self._alive)

    @functools.cached_property
    def _one_in_tenant(self) -> Select[Any]:
        return self._one_by_key.where(*self._in_tenant)

    @functools.cached_property
    def _count_in_tenant(self) -> Select[Any]:
        return self._count.where(*self._in_tenant)

    @functools.cached_property
    def _insert(self) -> Any:
        return insert(self.info.table).returning(*self._returning)

    @functools.cached_property
    def _update(self) -> Any:
        by_key = self._by_key_param(_UPDATE_KEY)
        return sa_update(self.info.table).where(*by_key, *self._alive).returning(*self._returning)

    def by_key(self, ident: Any) -> list[Clause]:
        """The conditions that pick a row by its key (a tuple for a composite key)."""
        if len(self.key_columns) == 1:
            return [self.pk == ident]
        return [c == v for c, v in zip(self.key_columns, ident, strict=True)]

    def ident_of(self, row: Any) -> Any:
        """The key of a row a write returned."""
        mapping = row._mapping
        values = tuple(mapping[f"{KEY_LABEL}{i}"] for i in range(len(self.key_columns)))
        return values[0] if len(values) == 1 else values

    def one(
        self,
        item_id: Any,
        where: Sequence[Clause] = (),
        alive: bool = True,
        options: Sequence[Any] = (),
    ) -> tuple[Select[Any], Any]:
        """Select one live row (or ORM object; with ``alive=False`` also a soft-deleted one) by
        primary key: the statement and its parameters. ``options`` keep embedded rows the
        request may not see out (`Visibility.loader_options`)."""
        rest, tenant = self._tenant_of(where)
        if rest or not alive:
            live = self._alive if alive else []
            statement = self._select.where(*self.by_key(item_id), *where, *live)
            return (statement.options(*options) if options else statement), None
        params = self._key_params(item_id, _SELECT_KEY)
        prebuilt = self._one_by_key
        if tenant is not _NO_TENANT:
            prebuilt = self._one_in_tenant
            params[_TENANT] = tenant
        return (prebuilt.options(*options) if options else prebuilt), params

    def _tenant_of(self, where: Sequence[Clause]) -> tuple[Sequence[Clause], Any]:
        """``where`` without its ``tenant == value`` condition, and that value (`_NO_TENANT`
        when there is none), so a prebuilt statement can take the value as a parameter."""
        tenant = self.tenant
        if tenant is None:
            return where, _NO_TENANT
        for i, clause in enumerate(where):
            if (
                isinstance(clause, BinaryExpression)
                and clause.left is tenant
                and clause.operator is operators.eq
                and isinstance(clause.right, BindParameter)
                and clause.right.callable is None
            ):
                return [*where[:i], *where[i + 1 :]], clause.right.value
        return where, _NO_TENANT

    def _by_key_param(self, prefix: str) -> list[Clause]:
        """The conditions that pick a row by the key given as parameters (`_key_params`)."""
        return [c == bindparam(f"{prefix}{i}") for i, c in enumerate(self.key_columns)]

    def _key_params(self, item_id: Any, prefix: str) -> dict[str, Any]:
        """The key of a row (a tuple for a composite key) as the parameters ``{prefix}0``,
        ``{prefix}1``, ... of a statement built with the router."""
        values = [item_id] if len(self.key_columns) == 1 else item_id
        return {f"{prefix}{i}": v for i, v in enumerate(values)}

    def loaders(self, fields: Sequence[str] | None) -> list[Any]:
        """Eager loads of the embedded relationships among ``fields`` (all when None); every
        other relationship is loaded lazily, whatever ``lazy=`` its mapping declares."""
        model = self.info.model
        chosen = [e for k, e in self.embeds.items() if fields is None or k in fields]
        return [*[embed.loader(model) for embed in chosen], lazyload("*")]

    def orm_one(
        self, item_id: Any, where: Sequence[Clause] = (), alive: bool = True
    ) -> Select[Any]:
        """Select one ORM object by primary key (``alive=False``: soft-deleted too)."""
        model = self.info.model
        conditions = [*self.by_key(item_id), *where, *(self._alive if alive else ())]
        return select(model).options(lazyload("*")).where(*conditions)

    def exists(self, item_id: Any, where: Sequence[Clause] = (), alive: bool = True) -> Select[Any]:
        """Select the key of one live row (``alive=False``: soft-deleted too), to tell a
        missing row from a stale version."""
        live = self._alive if alive else ()
        return self._exists.where(*self.by_key(item_id), *where, *live)

    def page_select(
        self,
        fields: Sequence[str] | None,
        sort: Sort,
        where: Sequence[Clause],
        offset: int,
        limit: int,
        joins: Sequence[str] = (),
        seen: Restriction | None = None,
        options: Sequence[Any] = (),
    ) -> tuple[Select[Any], dict[str, int]]:
        """One page and one row more (to tell whether a next page exists), and its parameters.

        Rows carry the sort key values as ``_k0``, ``_k1``... for the next cursor. The statement
        for each sort and field set is built once; a request adds only its own conditions, the
        joins its paths need (crossing only related rows ``seen`` shows) and ``options``.
        """
        where, tenant = self._tenant_of(where)
        in_tenant = tenant is not _NO_TENANT
        key = (sort.spelling, fields, offset > 0, in_tenant)
        statement = self._pages.get(key)
        if statement is None:
            statement = self._build_page(fields, sort, offset > 0)
            if in_tenant:
                statement = statement.where(*self._in_tenant)
            if len(self._pages) < _MAX_CACHED:
                self._pages[key] = statement
        needed = {*joins, *sort.joins}
        if needed:
            statement = self.joins.apply(statement, sorted(needed), seen)
        if where:
            statement = statement.where(*where)
        if options and self.page_is_orm(fields):
            statement = statement.options(*options)
        params: dict[str, Any] = {"page_limit": limit + 1, "page_offset": offset}
        if in_tenant:
            params[_TENANT] = tenant
        return statement, params

    def _build_page(self, fields: Sequence[str] | None, sort: Sort, offset: bool) -> Select[Any]:
        columns = self.info.columns
        loaders: list[Any] = []
        if fields is not None and all(name in columns for name in fields):
            entities: list[Any] = [columns[name].label(name) for name in fields]
        elif self.uses_orm:
            entities = [self.info.model]
            loaders = self.loaders(fields)
        else:
            entities = list(self.columns)
        keys = [key.column.label(f"_k{i}") for i, key in enumerate(sort.keys)]
        statement = (
            select(*entities, *keys)
            .select_from(self.info.table)
            .order_by(*sort.order_by())
            .limit(bindparam("page_limit"))
            .options(*loaders)
        )
        return statement.offset(bindparam("page_offset")) if offset else statement

    def page_is_orm(self, fields: Sequence[str] | None) -> bool:
        """Whether a page with these fields is made of ORM objects (else plain rows)."""
        if fields is not None and all(name in self.info.columns for name in fields):
            return False
        return self.uses_orm

    def count(
        self, where: Sequence[Clause], joins: Sequence[str] = (), seen: Restriction | None = None
    ) -> tuple[Select[Any], dict[str, Any] | None]:
        """Count the rows that match ``where``: the statement and its parameters."""
        where, tenant = self._tenant_of(where)
        base, params = self._count, None
        if tenant is not _NO_TENANT:
            base, params = self._count_in_tenant, {_TENANT: tenant}
        statement = self.joins.apply(base, joins, seen) if joins else base
        return (statement.where(*where) if where else statement), params

    def _row(self, values: dict[str, Any]) -> dict[Any, Any]:
        return {self.info.columns[key]: value for key, value in values.items()}

    def _params(self, values: dict[str, Any]) -> dict[str, Any]:
        """Attribute values as parameters, keyed by column."""
        return {column.key: value for column, value in self._row(values).items()}

    def insert(self, values: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        """Insert a row from attribute values, returning the read columns (or the key): the
        statement and its parameters. Plain values go as parameters of one statement built
        with the router, whose compiled form is reused; SQL expressions (from a ``stamp``)
        are written into a statement of their own."""
        if _plain(values):
            return self._insert, self.row_values(values)
        return self.plain_insert(values).returning(*self._returning), None

    def plain_insert(self, values: dict[str, Any]) -> Insert:
        """`insert` without RETURNING, for databases without it (then `read_back`)."""
        return insert(self.info.table).values(self._versioned(values))

    def read_back(self, item_id: Any) -> Select[Any]:
        """Select by key what `insert` and `update` return, for databases without RETURNING."""
        return select(*self._returning).select_from(self.info.table).where(*self.by_key(item_id))

    def insert_missing(self, values: dict[str, Any], dialect: str) -> Any:
        """Insert a row unless its key exists (``ON CONFLICT DO NOTHING``): race-free upsert's
        create step. Returns no row when another writer got there first."""
        statement = _dialect_insert(dialect)(self.info.table).values(self._versioned(values))
        keys = [c.name for c in self.key_columns]
        return statement.on_conflict_do_nothing(index_elements=keys).returning(*self._returning)

    @property
    def returning(self) -> list[Any]:
        """What writes return: the read columns (or the key), the key and the version."""
        return self._returning

    def row_values(self, values: dict[str, Any], bump_version: bool = False) -> dict[str, Any]:
        """Attribute values as column-keyed parameters of a bulk insert (with the first
        version) or a bulk update (``bump_version``: the next one)."""
        if not bump_version:
            return {column.key: value for column, value in self._versioned(values).items()}
        row = self._params(values)
        if self.version is not None and isinstance(self.version.type, Integer):
            if self.info.version_generator is not None:
                row[self.version.key] = self.version + 1
        return row

    def _versioned(self, values: dict[str, Any]) -> dict[Any, Any]:
        row = self._row(values)
        generator = self.info.version_generator
        if self.version is not None and generator is not None:
            row[self.version] = generator(None)
        return row

    def update(
        self,
        item_id: Any,
        values: dict[str, Any],
        where: Sequence[Clause] = (),
        versions: Sequence[Any] | None = None,
    ) -> tuple[Any, dict[str, Any] | None]:
        """Update one row by key; with ``versions``, only while its version is one of them: the
        statement and its parameters. Like `insert`, plain values of an unversioned row without
        further conditions go as parameters of one statement built with the router."""
        if _plain(values) and not where and versions is None and self.version is None:
            return self._update, {**self._params(values), **self._key_params(item_id, _UPDATE_KEY)}
        statement = self.plain_update(item_id, values, where, versions)
        return statement.returning(*self._returning), None

    def plain_update(
        self,
        item_id: Any,
        values: dict[str, Any],
        where: Sequence[Clause] = (),
        versions: Sequence[Any] | None = None,
    ) -> Update:
        """`update` without RETURNING, for databases without it (then `read_back`)."""
        row = self._row(values)
        conditions = [*self.by_key(item_id), *where, *self._alive]
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
        return sa_update(self.info.table).where(*conditions).values(row)

    def delete(
        self,
        item_id: Any,
        where: Sequence[Clause] = (),
        versions: Sequence[Any] | None = None,
        marks: dict[str, Any] | None = None,
    ) -> ReturningDelete[Any] | ReturningUpdate[Any]:
        """Delete one row by key (or mark it deleted), returning its key."""
        return self.plain_delete(item_id, where, versions, marks).returning(self.pk)

    def plain_delete(
        self,
        item_id: Any,
        where: Sequence[Clause] = (),
        versions: Sequence[Any] | None = None,
        marks: dict[str, Any] | None = None,
    ) -> Delete | Update:
        """`delete` (or the soft-delete mark) without RETURNING, for databases without it
        (then its row count). ``marks``: the request's values of ``soft_delete_values``."""
        conditions = [*self.by_key(item_id), *where, *self._alive]
        if self.version is not None and versions is not None:
            conditions.append(self.version.in_(versions))
        if self.soft is not None:
            mark = self.soft.marks(marks)
            return sa_update(self.info.table).where(*conditions).values(mark)
        return delete(self.info.table).where(*conditions)

    def restore(self, item_id: Any, where: Sequence[Clause] = ()) -> ReturningUpdate[Any]:
        """Clear the mark of a soft-deleted row, returning it as a write does."""
        return self.plain_restore(item_id, where).returning(*self._returning)

    def plain_restore(self, item_id: Any, where: Sequence[Clause] = ()) -> Update:
        """`restore` without RETURNING."""
        assert self.soft is not None
        conditions = [*self.by_key(item_id), *where, self.soft.deleted()]
        statement = sa_update(self.info.table).where(*conditions)
        return statement.values(self.soft.clears())


_NO_TENANT: Any = object()
"""`Queries._tenant_of` found no tenant condition."""


def _dialect_insert(dialect: str) -> Any:
    """The ``insert`` with ``ON CONFLICT`` of a dialect."""
    if dialect == "postgresql":
        return pg_insert
    if dialect == "sqlite":
        return sqlite_insert
    raise ValueError(f"ON CONFLICT needs PostgreSQL or SQLite, not {dialect}")


def _plain(values: dict[str, Any]) -> bool:
    """Whether a write's values can be parameters of a statement built with the router: some
    values, none of them a SQL expression (a ``stamp`` may give one)."""
    return bool(values) and not any(isinstance(v, ClauseElement) for v in values.values())
