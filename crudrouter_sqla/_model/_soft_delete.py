"""Soft delete: a nullable timestamp (or a boolean) column that marks a row deleted, and the
columns a soft delete writes beside it (``soft_delete_values``)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Boolean, Column, ColumnElement, DateTime, false, true
from sqlalchemy.sql import ClauseElement

from ..errors import ConfigurationError
from ._inspect import ModelInfo, python_type


@dataclass(frozen=True)
class SoftValue:
    """A column a soft delete writes beside its mark: a value (or SQL expression) written as
    is, or a dependency whose value each request gives; restore writes ``cleared`` back."""

    key: str
    column: Column[Any]
    value: Any = None
    dependency: Callable[..., Any] | None = None
    cleared: Any = None


@dataclass(frozen=True)
class SoftDelete:
    """How rows of a model are marked deleted, and the conditions that tell them apart.

    The mark (``key``) alone decides whether a row is alive; ``values`` are the other columns
    a soft delete sets (who deleted it, a flag) and a restore clears.
    """

    key: str
    column: Column[Any]
    boolean: bool
    values: tuple[SoftValue, ...] = ()

    @property
    def keys(self) -> frozenset[str]:
        """Every column a soft delete writes: the mark and ``values``. Only DELETE and restore
        write them; no write schema holds them."""
        return frozenset({self.key, *(value.key for value in self.values)})

    @property
    def dependencies(self) -> dict[str, Callable[..., Any]]:
        """The columns whose values a request gives, and the dependency of each."""
        return {v.key: v.dependency for v in self.values if v.dependency is not None}

    def alive(self) -> ColumnElement[bool]:
        """Rows that are not soft-deleted."""
        if self.boolean:
            return self.column.is_not(True) if self.column.nullable else self.column == false()
        return self.column.is_(None)

    def deleted(self) -> ColumnElement[bool]:
        """Rows that are soft-deleted."""
        return self.column == true() if self.boolean else self.column.is_not(None)

    def mark(self) -> Any:
        """The value that marks a row deleted now."""
        if self.boolean:
            return True
        now = datetime.datetime.now(datetime.UTC)
        if isinstance(self.column.type, DateTime) and not self.column.type.timezone:
            return now.replace(tzinfo=None)
        return now

    def clear(self) -> Any:
        """The value of a row that is not deleted."""
        return False if self.boolean else None

    def marks(self, given: Mapping[str, Any] | None = None) -> dict[Column[Any], Any]:
        """The values of a soft delete: the mark and ``values``, those of dependencies taken
        from ``given`` (what the request's dependencies returned)."""
        row: dict[Column[Any], Any] = {self.column: self.mark()}
        for value in self.values:
            if value.dependency is None:
                row[value.column] = value.value
            else:
                row[value.column] = (given or {})[value.key]
        return row

    def clears(self) -> dict[Column[Any], Any]:
        """The values of a restore: the mark and every column of ``values`` cleared."""
        return {self.column: self.clear(), **{v.column: v.cleared for v in self.values}}


def build_soft_delete(info: ModelInfo, key: str) -> SoftDelete:
    """Read ``soft_delete="deleted_at"``; `ConfigurationError` unless it names a nullable
    timestamp column or a boolean column of the model."""
    column = info.columns.get(key)
    if column is None:
        raise ConfigurationError(
            f"soft_delete names {key!r}, which is not a column of {info.resource}; "
            f"columns: {', '.join(info.columns)}"
        )
    if isinstance(column.type, Boolean) or python_type(column) is bool:
        return SoftDelete(key, column, True)
    if python_type(column) is datetime.datetime or isinstance(column.type, DateTime):
        if not column.nullable:
            raise ConfigurationError(
                f"soft_delete column {info.resource}.{key} must be nullable (null: not deleted)"
            )
        return SoftDelete(key, column, False)
    raise ConfigurationError(
        f"soft_delete column {info.resource}.{key} must be a nullable timestamp or a boolean"
    )


def with_soft_values(
    info: ModelInfo,
    soft: SoftDelete | None,
    values: Mapping[str, Any] | None,
    *,
    tenant: str | None = None,
    parent: str | None = None,
    stamped: frozenset[str] = frozenset(),
) -> SoftDelete | None:
    """Read ``soft_delete_values={"deleted_by": current_user_id, "purged": True}``: columns a
    soft delete sets beside its mark. A callable is a dependency (its value is the request's);
    anything else, a Python value or a SQL expression such as ``func.now()``, is written as
    is. A restore clears them: null, or false for a boolean column.

    `ConfigurationError` without ``soft_delete``, and for a name that is not a column or that
    the router writes otherwise: the mark, a key column, the version, the tenant, the parent
    key, a stamped column; and for a column that restore could not clear (not nullable, not a
    boolean).
    """
    if values is None:
        return soft
    if not isinstance(values, Mapping):
        raise ConfigurationError(
            f"soft_delete_values must be a mapping of columns to values or dependencies, "
            f"got {values!r}"
        )
    if soft is None:
        raise ConfigurationError(
            "soft_delete_values names columns a soft delete sets, but the router has no "
            "soft_delete; give soft_delete= (the column that marks a row deleted) as well"
        )
    taken = {soft.key: "the soft-delete mark, which soft_delete sets"}
    taken |= {part.key: "a key column" for part in info.key}
    if info.version_key is not None:
        taken[info.version_key] = "the version column"
    if tenant is not None:
        taken[tenant] = "the tenant column, which the tenancy sets"
    if parent is not None:
        taken[parent] = "the parent key, which the nested path sets"
    taken |= {key: "a column the stamp writes" for key in stamped if key not in taken}
    written = []
    for key, value in values.items():
        column = info.columns.get(key) if isinstance(key, str) else None
        if column is None:
            raise ConfigurationError(
                f"soft_delete_values names {key!r}, which is not a column of {info.resource}; "
                f"columns: {', '.join(info.columns)}"
            )
        if key in taken:
            raise ConfigurationError(
                f"soft_delete_values names {info.resource}.{key}, {taken[key]}; a soft delete "
                f"may set only columns nothing else writes"
            )
        boolean = isinstance(column.type, Boolean) or python_type(column) is bool
        if not boolean and not column.nullable:
            raise ConfigurationError(
                f"soft_delete_values column {info.resource}.{key} must be nullable (restore "
                f"sets it to null) or a boolean (restore sets it to false)"
            )
        cleared = False if boolean else None
        if callable(value) and not isinstance(value, ClauseElement):
            written.append(SoftValue(key, column, dependency=value, cleared=cleared))
        else:
            written.append(SoftValue(key, column, value=value, cleared=cleared))
    return replace(soft, values=tuple(written))
