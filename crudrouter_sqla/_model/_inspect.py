"""What the router needs to know about an ORM model, read once when the router is built."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    REAL,
    BigInteger,
    Column,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    inspect,
)
from sqlalchemy.exc import NoInspectionAvailable
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipProperty
from sqlalchemy.types import TypeDecorator

from ..errors import ConfigurationError

_INT_BOUNDS: tuple[tuple[type[Any], int], ...] = (
    (SmallInteger, 2**15 - 1),
    (BigInteger, 2**63 - 1),
    (Integer, 2**31 - 1),
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""The widest integers any of the databases stores (``BIGINT``)."""

DOUBLE_MAX = decimal.Decimal("1.7976931348623157e308")
"""The largest magnitude a double holds (``sys.float_info.max``, to its shortest spelling)."""

SINGLE_MAX = decimal.Decimal("3.4028234e38")
"""The largest magnitude a single-precision float (PostgreSQL ``real``) holds."""


@dataclass(frozen=True)
class KeyPart:
    """One column of a primary key: its attribute name, column and Python type."""

    key: str
    column: Column[Any]
    type: type[Any]

    def bounds(self) -> dict[str, Any]:
        """Validation bounds for its path parameter, so values the column cannot hold are 422."""
        bounds = column_bounds(self.column)
        if self.type is str:
            # PostgreSQL text cannot hold NUL; refuse it as a bad id on every database.
            bounds["pattern"] = r"^[^\x00]*$"
        return bounds


@dataclass(frozen=True)
class ModelInfo:
    """The mapped class, its table, primary key and column attributes.

    Attributes:
        model: the mapped class.
        table: the table it is mapped to.
        resource: the name a 404 uses ("Hero").
        pk_key: the attribute name of the primary key (its first column when composite).
        pk_column: the primary-key column (its first column when composite).
        pk_type: the Python type of the primary key (int, str, uuid.UUID, ...).
        key: every column of the primary key, in the mapper's order.
        columns: attribute name -> column, for every plain column attribute.
        version_key: the attribute of the mapper's ``version_id_col``, if it has one.
        version_generator: makes the next version from the current one; None when the
            database makes it (``version_id_generator=False``).
        relationships: attribute name -> relationship, for every relationship of the mapper.
    """

    model: type[Any]
    table: Table
    resource: str
    pk_key: str
    pk_column: Column[Any]
    pk_type: type[Any]
    columns: dict[str, Column[Any]]
    key: tuple[KeyPart, ...] = ()
    version_key: str | None = None
    version_generator: Callable[[Any], Any] | None = None
    relationships: dict[str, RelationshipProperty[Any]] = field(default_factory=dict)

    @property
    def foreign_keys(self) -> frozenset[str]:
        """Attribute names of the columns that reference another table."""
        return frozenset(k for k, c in self.columns.items() if c.foreign_keys)

    @property
    def composite(self) -> bool:
        """Whether the primary key has several columns."""
        return len(self.key) > 1

    @property
    def generated_keys(self) -> frozenset[str]:
        """The key columns the database or SQLAlchemy fills in when a row is inserted."""
        return frozenset(p.key for p in self.key if _generated(p, self.composite))

    @property
    def pk_generated(self) -> bool:
        """Whether the database or SQLAlchemy makes (part of) the key when a row is inserted."""
        return bool(self.generated_keys)

    def pk_bounds(self) -> dict[str, Any]:
        """Validation bounds for the path parameter, so ids the column cannot hold are 422."""
        return self.key[0].bounds()

    def describe(self, ident: Any) -> str:
        """A key value as a 404 names it: ``5``, or ``team_id=1, hero_id=2``."""
        if not self.composite:
            return str(ident)
        return ", ".join(f"{part.key}={value}" for part, value in zip(self.key, ident, strict=True))


def _generated(part: KeyPart, composite: bool) -> bool:
    col = part.column
    if col.default is not None or col.server_default is not None:
        return True
    # SQLAlchemy's "auto" makes a lone integer key autoincrement, never a composite one.
    allowed = (True,) if composite else (True, "auto")
    return part.type is int and col.autoincrement in allowed


def column_bounds(column: Column[Any]) -> dict[str, Any]:
    """Bounds a value must keep to fit the column: integer range, string length."""
    col_type = column.type
    for sa_type, bound in _INT_BOUNDS:
        if isinstance(col_type, sa_type):
            return {"ge": -bound - 1, "le": bound}
    if isinstance(col_type, String) and col_type.length:
        return {"max_length": col_type.length}
    return {}


def number_bounds(column: Column[Any]) -> tuple[decimal.Decimal, decimal.Decimal] | None:
    """The least and greatest number the column stores, on every database; None for a column
    that holds no numbers.

    Integers keep to their type's range. A ``Numeric(p, s)`` holds less than ``10**(p - s)`` in
    magnitude (PostgreSQL and MySQL refuse more). SQLite keeps every ``Numeric`` and ``Float``
    as a double, or as infinity when the value is larger, which no read can turn back into a
    number; so no number may pass the double's range, and a ``REAL`` or a ``Float`` of at most
    24 bits keeps to the single-precision range PostgreSQL gives it.
    """
    col_type = column.type
    for sa_type, bound in _INT_BOUNDS:
        if isinstance(col_type, sa_type):
            return decimal.Decimal(-bound - 1), decimal.Decimal(bound)
    if isinstance(col_type, REAL) or (
        isinstance(col_type, Float) and col_type.precision is not None and col_type.precision <= 24
    ):
        return -SINGLE_MAX, SINGLE_MAX
    if not isinstance(col_type, Numeric | Float):
        return None
    high = DOUBLE_MAX
    if not isinstance(col_type, Float) and col_type.precision is not None:
        # Numeric(10, 2): at most 99999999.99.
        scale = col_type.scale or 0
        one = decimal.Decimal(1)
        high = min(high, one.scaleb(col_type.precision - scale) - one.scaleb(-scale))
    return -high, high


def python_type(column: Column[Any]) -> type[Any] | None:
    """The Python type of a column's values, or None when SQLAlchemy does not say."""
    try:
        result: type[Any] = column.type.python_type
        if result is object and isinstance(column.type, TypeDecorator):
            # A decorator that does not say (SQLModel's AutoString, most custom types) holds
            # the values of the type beneath it.
            result = column.type.impl_instance.python_type
    except NotImplementedError:
        return None
    return result


def inspect_model(model: type[Any]) -> ModelInfo:
    """Read a mapped class; raise `ConfigurationError` if a router cannot serve it."""
    try:
        mapper: Mapper[Any] = inspect(model)
    except NoInspectionAvailable:
        raise ConfigurationError(
            f"{model!r} is not a mapped SQLAlchemy class; pass a declarative model such as "
            "`class Hero(Base): ...`"
        ) from None
    if not isinstance(mapper, Mapper):
        raise ConfigurationError(f"{model!r} is not a mapped SQLAlchemy class")
    table = mapper.local_table
    if not isinstance(table, Table) or len(mapper.tables) != 1:
        raise ConfigurationError(
            f"{model.__name__} is mapped to {len(mapper.tables)} tables; CRUDRouter serves "
            "models mapped to exactly one table"
        )
    pk = list(mapper.primary_key)
    if not pk:
        raise ConfigurationError(f"{model.__name__} has no primary key; CRUDRouter needs one")
    columns: dict[str, Column[Any]] = {}
    for prop in mapper.column_attrs:
        if isinstance(prop, ColumnProperty) and len(prop.columns) == 1:
            col = prop.columns[0]
            if isinstance(col, Column) and col.table is table:
                columns[prop.key] = col
    parts: list[KeyPart] = []
    for pk_column in pk:
        pk_key = next((k for k, c in columns.items() if c is pk_column), None)
        if pk_key is None or not isinstance(pk_column, Column):
            raise ConfigurationError(f"{model.__name__}'s primary key is not a mapped attribute")
        parts.append(KeyPart(pk_key, pk_column, python_type(pk_column) or str))
    version_key: str | None = None
    generator: Callable[[Any], Any] | None = None
    if mapper.version_id_col is not None:
        version_key = next((k for k, c in columns.items() if c is mapper.version_id_col), None)
        if version_key is None:
            raise ConfigurationError(f"{model.__name__}'s version_id_col is not a mapped column")
        if mapper.version_id_generator is not False:
            generator = mapper.version_id_generator
    return ModelInfo(
        version_key=version_key,
        version_generator=generator,
        model=model,
        table=table,
        resource=model.__name__,
        pk_key=parts[0].key,
        pk_column=parts[0].column,
        pk_type=parts[0].type,
        key=tuple(parts),
        columns=columns,
        relationships={rel.key: rel for rel in mapper.relationships},
    )
