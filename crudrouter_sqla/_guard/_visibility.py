"""`Visibility`: what one request may see, for any model it reaches.

Every place a request reaches a row asks `Visibility.where` for the conditions a row of that
model must meet: the router's own rows, the parent of a nested route, the rows that reference
keys in a write name, embedded rows, the ends and steps of relationship paths, bulk and upsert
statements, and the rows hooks are shown. Three rules make it up:

- the router's ``tenancy``: a model with the tenant column shows only the caller's tenant;
- soft delete, a fact of the model (`soft_delete_of`): marked rows do not exist;
- the router's ``scope``: on the router's own model, only the rows it matches.

A row outside them behaves exactly as a row that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, inspect
from sqlalchemy.orm import with_loader_criteria
from sqlalchemy.sql.util import ClauseAdapter
from sqlalchemy.sql.visitors import replacement_traverse

from ._rules import soft_delete_of
from ._tenancy import Tenancy

Clause = ColumnElement[bool]


class Visibility:
    """The rows one request may see.

    Args:
        own: the router's model.
        scope: the clause the router's ``scope`` returned for this request, or None.
        tenancy: the router's `Tenancy`, or None.
        tenant: the caller's tenant value (with ``tenancy``).
    """

    __slots__ = ("own", "scope", "tenancy", "tenant")

    def __init__(
        self,
        own: type[Any],
        scope: Clause | None = None,
        tenancy: Tenancy | None = None,
        tenant: Any = None,
    ) -> None:
        self.own = own
        self.scope = scope
        self.tenancy = tenancy
        self.tenant = tenant

    def tenant_condition(self, model: type[Any]) -> Clause | None:
        """``model.<tenant column> = tenant``, or None for a shared model."""
        if self.tenancy is None:
            return None
        column = self.tenancy.column_of(model)
        return None if column is None else column == self.tenant

    def own_rows(self) -> list[Clause]:
        """The conditions on the router's own rows apart from soft delete (which the list's
        ``deleted=`` and restore handle): the scope and the tenant."""
        where: list[Clause] = []
        if self.scope is not None:
            where.append(self.scope)
        tenant = self.tenant_condition(self.own)
        if tenant is not None:
            where.append(tenant)
        return where

    def where(self, model: type[Any], selectable: Any = None) -> list[Clause]:
        """The conditions a row of ``model`` must meet for this request to see it; on
        ``selectable`` (an alias of its table, or an aliased ORM entity) when given.

        This is the one answer to "may this request see this row of that model".
        """
        where = self.own_rows() if model is self.own else _tenant_only(self, model)
        soft = soft_delete_of(model)
        if soft is not None:
            where.append(soft.alive())
        if selectable is None or not where:
            return where
        target = selectable
        if not isinstance(target, FromClause):
            target = inspect(target).selectable
        adapter = ClauseAdapter(target)
        return [adapter.traverse(clause) for clause in where]

    def restricts(self, model: type[Any]) -> bool:
        """Whether any rule hides rows of ``model`` from this request."""
        return bool(self.where(model))

    def loader_options(self, models: Iterable[type[Any]]) -> list[Any]:
        """Loader criteria that keep rows this request may not see out of the embedded
        relationships of ``models`` (eager and lazy loads alike)."""
        options: list[Any] = []
        for model in models:
            if model is self.own:
                # The statement's own rows carry their conditions in WHERE; criteria on the
                # own model would also hide soft-deleted rows a list asked for.
                where = _tenant_only(self, model)
                if self.scope is not None:
                    where.append(self.scope)
            else:
                where = self.where(model)
            if where:
                # Criteria in the class's attributes: SQLAlchemy adapts those to the alias or
                # join each relationship load uses.
                criteria = _on_attributes(model, and_(*where))
                options.append(with_loader_criteria(model, criteria, include_aliases=True))
        return options


def _on_attributes(model: type[Any], clause: Clause) -> Clause:
    """``clause`` with each column of the model's table replaced by the class attribute."""
    mapper = inspect(model)
    table = mapper.local_table
    attributes = {
        column: getattr(model, prop.key).__clause_element__()
        for prop in mapper.column_attrs
        for column in prop.columns
        if getattr(column, "table", None) is table
    }

    def replace(element: Any, **_kw: Any) -> Any:
        return attributes.get(element)

    return replacement_traverse(clause, {}, replace)


def _tenant_only(visibility: Visibility, model: type[Any]) -> list[Clause]:
    condition = visibility.tenant_condition(model)
    return [] if condition is None else [condition]
