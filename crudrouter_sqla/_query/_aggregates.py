"""Grouped aggregates of a list: which groups and functions a router allows, read once when the
router is built, and the one statement a request asks for."""

from __future__ import annotations

import datetime
import decimal
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, distinct, func, literal_column, select

from .._model import Joins, ModelInfo, Restriction, python_type
from ..errors import ConfigurationError
from ._filters import Clause, resolve_target

FUNCTIONS = ("count", "count_distinct", "sum", "avg", "min", "max")
"""The aggregate functions a router may allow."""

_NUMBERS = (int, float, decimal.Decimal)
_ORDERED = (*_NUMBERS, str, datetime.date, datetime.datetime, datetime.time)


@dataclass(frozen=True)
class Aggregates:
    """The grouped aggregates a router serves at ``GET {prefix}/aggregate``.

    Args:
        group_by: the fields a request may group by: columns, or dotted to-one paths such as
            ``"project.name"``.
        functions: for each field (a column or a to-one path), the functions a request may
            apply to it: ``count_distinct``, ``sum`` and ``avg`` (numbers), ``min`` and
            ``max`` (numbers, text, dates and times). ``count`` (the rows of each group) is
            always allowed.
        dependencies: FastAPI dependencies of the route alone (``[Depends(admin)]``).

    Example:
        ```python
        from crudrouter_sqla import Aggregates

        aggregates = Aggregates(
            group_by=["status", "project.name"],
            functions={"estimate": ["sum", "avg", "max"], "assignee_id": ["count_distinct"]},
        )
        ```
    """

    group_by: Sequence[str] = ()
    functions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    dependencies: Sequence[Any] = ()


@dataclass(frozen=True)
class GroupField:
    """A field a request may group by."""

    name: str
    column: ColumnElement[Any]
    joins: tuple[str, ...]
    value_type: type[Any]


@dataclass(frozen=True)
class Metric:
    """One aggregate a request may ask for, named ``count`` or ``{function}_{field}``."""

    name: str
    function: str
    column: ColumnElement[Any] | None
    joins: tuple[str, ...]
    value_type: Any

    def expression(self) -> ColumnElement[Any]:
        """The SQL of the aggregate."""
        if self.column is None:
            return func.count()
        if self.function == "count_distinct":
            return func.count(distinct(self.column))
        if self.function == "avg" and self.value_type is float:
            # The average of integers in floating point everywhere (MariaDB's is a decimal of
            # four places).
            return func.avg(self.column * literal_column("1.0e0"))
        return getattr(func, self.function)(self.column)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class AggregateSpec:
    """The groups and aggregates a router allows."""

    groups: dict[str, GroupField]
    metrics: dict[str, Metric]

    def statement(
        self,
        groups: Sequence[str],
        metrics: Sequence[str],
        order: Sequence[tuple[str, bool]],
        where: Sequence[Clause],
        joins: Sequence[str],
        joiner: Joins,
        table: Any,
        seen: Restriction | None,
    ) -> Select[Any]:
        """One statement: the groups (``g0``, ``g1``, ...) and the aggregates (``a0``, ...) of
        the rows ``where`` picks, in ``order`` (names, and whether descending) and then by
        every group; nulls come last going up, first going down."""
        group_columns = [self.groups[name].column for name in groups]
        expressions = {name: self.metrics[name].expression() for name in metrics}
        statement = select(
            *[c.label(f"g{i}") for i, c in enumerate(group_columns)],
            *[expressions[name].label(f"a{i}") for i, name in enumerate(metrics)],
        ).select_from(table)
        needed = {*joins}
        for name in groups:
            needed.update(self.groups[name].joins)
        for name in metrics:
            needed.update(self.metrics[name].joins)
        keys: list[Any] = []
        for name, descending in order:
            if name in expressions:
                value = expressions[name]
            elif name in self.metrics:
                value = self.metrics[name].expression()  # ordered by, not answered
                needed.update(self.metrics[name].joins)
            elif name in groups:
                value = self.groups[name].column
            else:
                # A field not grouped by: groups by its smallest value going up, its largest
                # going down.
                column = self.groups[name].column
                value = func.max(column) if descending else func.min(column)
                needed.update(self.groups[name].joins)
            # Nulls last going up and first going down, on every database (as PostgreSQL).
            nulls = value.is_(None)
            keys += [nulls.desc(), value.desc()] if descending else [nulls, value]
        named = {name for name, _ in order}
        for name, column in zip(groups, group_columns, strict=True):
            if name not in named:
                keys += [column.is_(None), column]
        if needed:
            statement = joiner.apply(statement, sorted(needed), seen)
        if where:
            statement = statement.where(*where)
        if group_columns:
            statement = statement.group_by(*group_columns)
        if keys:
            statement = statement.order_by(*keys)
        return statement


def build_aggregates(info: ModelInfo, joins: Joins, aggregates: Aggregates) -> AggregateSpec:
    """Check a router's `Aggregates` against its model; `ConfigurationError` names a mistake."""
    if not isinstance(aggregates, Aggregates):
        raise ConfigurationError(f"aggregates must be an Aggregates, got {aggregates!r}")
    if isinstance(aggregates.group_by, str):
        raise ConfigurationError(
            f"Aggregates group_by must be a list of fields, got {aggregates.group_by!r}; for "
            f"example [{aggregates.group_by!r}]"
        )
    groups: dict[str, GroupField] = {}
    for name in aggregates.group_by:
        target = resolve_target(info, joins, name, "Aggregates group_by")
        if target.path is not None and target.path.to_many:
            raise ConfigurationError(
                f"Aggregates group_by names {name!r}, a path through a to-many relationship; "
                "only columns and to-one paths can be grouped by"
            )
        groups[name] = GroupField(
            name, target.column, target.joins, python_type(target.source) or str
        )
    metrics: dict[str, Metric] = {"count": Metric("count", "count", None, (), int)}
    if not isinstance(aggregates.functions, Mapping):
        raise ConfigurationError(
            'Aggregates functions must map fields to functions, such as {"amount": ["sum", "avg"]}'
        )
    for name, functions in aggregates.functions.items():
        if isinstance(functions, str) or not isinstance(functions, Sequence):
            raise ConfigurationError(
                f"Aggregates functions[{name!r}] must be a list of functions, got "
                f"{functions!r}; for example [{functions!r}]"
            )
        target = resolve_target(info, joins, name, "Aggregates functions")
        if target.path is not None and target.path.to_many:
            raise ConfigurationError(
                f"Aggregates functions names {name!r}, a path through a to-many relationship; "
                "only columns and to-one paths can be aggregated"
            )
        value_type = python_type(target.source) or str
        for function in functions:
            result = _result_type(name, function, value_type)
            metric = f"{function}_{name}"
            metrics[metric] = Metric(metric, function, target.column, target.joins, result)
    clash = sorted(set(groups) & set(metrics))
    if clash:
        raise ConfigurationError(
            f"Aggregates group_by names {clash[0]!r}, which is also the name of an aggregate"
        )
    return AggregateSpec(groups, metrics)


def _result_type(name: str, function: str, value_type: type[Any]) -> Any:
    """The type of ``function`` over a field of ``value_type``; `ConfigurationError` when the
    function does not apply to it."""
    if function not in FUNCTIONS or function == "count":
        allowed = ", ".join(f for f in FUNCTIONS if f != "count")
        hint = " (count, the rows of each group, is always allowed)" if function == "count" else ""
        raise ConfigurationError(
            f"Aggregates functions[{name!r}] names {function!r}; functions: {allowed}{hint}"
        )
    is_number = issubclass(value_type, _NUMBERS) and not issubclass(value_type, bool)
    if function == "count_distinct":
        return int
    if function in ("sum", "avg"):
        if not is_number:
            raise ConfigurationError(
                f"Aggregates functions[{name!r}]: {function} needs a number column, and "
                f"{name!r} holds {value_type.__name__}"
            )
        # Decimals stay decimals (written as strings, which keep their precision); the sum and
        # the average of integers and floats are numbers.
        return decimal.Decimal if issubclass(value_type, decimal.Decimal) else float
    ordered = issubclass(value_type, _ORDERED) and not issubclass(value_type, bool | enum.Enum)
    if not ordered:
        raise ConfigurationError(
            f"Aggregates functions[{name!r}]: {function} needs a number, text, date or time "
            f"column, and {name!r} holds {value_type.__name__}"
        )
    return value_type
