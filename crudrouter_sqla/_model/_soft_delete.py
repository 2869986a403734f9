"""Soft delete: a nullable timestamp (or a boolean) column that marks a row deleted."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Column, ColumnElement, DateTime, false, true

from ..errors import ConfigurationError
from ._inspect import ModelInfo, python_type


@dataclass(frozen=True)
class SoftDelete:
    """How rows of a model are marked deleted, and the conditions that tell them apart."""

    key: str
    column: Column[Any]
    boolean: bool

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
