"""Filter operators: which fit a column, how their values are parsed, the clause each makes.

URL syntax: ``?age__gte=30``, ``?team_id__in=1,2``, ``?age__between=18,65``,
``?name__ilike=bat``; a bare ``?name=Thor`` means ``eq`` (``?name__eq=Thor`` too, which the
OpenAPI document leaves out, so a client sees one parameter per filter). Groups (``or=(...)``)
live in `._groups`. Text operators escape ``%`` and ``_`` so what a user typed matches literally.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from sqlalchemy import Boolean, Column, ColumnElement, String, Text, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import bindparam
from sqlalchemy.sql.visitors import InternalTraversal

from .._model import (
    Joins,
    ModelInfo,
    Path,
    Restriction,
    column_bounds,
    exists_clause,
    python_type,
    resolve_path,
)
from ..errors import ConfigurationError

Clause = ColumnElement[bool]

EQUALITY = ("eq", "ne", "in", "not_in", "isnull")
ORDERING = ("gt", "gte", "lt", "lte", "between")
TEXT = ("like", "ilike", "startswith", "endswith", "contains")
OPERATORS = EQUALITY + ORDERING + TEXT
"""Every operator a filter may allow."""

MAX_IN_VALUES = 100
"""The most comma-separated values an ``in`` or ``not_in`` filter takes."""

DEFAULT_MAX_TEXT = 200
"""The longest text a filter or search takes when its column sets no length."""

_ORDERED_TYPES = (int, float, decimal.Decimal, datetime.date, datetime.time, datetime.timedelta)


def operators_for(value_type: type[Any] | None) -> tuple[str, ...]:
    """The operators that fit a column whose values have this Python type."""
    if value_type is None:
        return ("isnull",)
    if value_type is bool:
        return ("eq", "ne", "isnull")
    if issubclass(value_type, str) and not issubclass(value_type, enum.Enum):
        return EQUALITY + ORDERING + TEXT
    if issubclass(value_type, _ORDERED_TYPES):
        return EQUALITY + ORDERING
    if issubclass(value_type, uuid.UUID | enum.Enum):
        return EQUALITY
    return ("isnull",)


def escape_like(text: str) -> str:
    """Escape LIKE wildcards with a backslash so they match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _CaseSensitiveMatch(ColumnElement[bool]):
    """``column`` starts with, ends with or contains ``value``, case-sensitive everywhere.

    SQLite's LIKE ignores ASCII case, so there the match is spelled with ``instr``/``substr``.
    """

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("value", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
        ("mode", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], value: str, mode: str) -> None:
        escaped = escape_like(value)
        pattern = {"startswith": escaped + "%", "endswith": "%" + escaped}.get(
            mode, "%" + escaped + "%"
        )
        self.column = column
        self.value = bindparam(None, value, type_=String())
        self.pattern = bindparam(None, pattern, type_=String())
        self.mode = mode


@compiles(_CaseSensitiveMatch)
def _compile_match(element: _CaseSensitiveMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.like(element.pattern, escape="\\"), **kw)


@compiles(_CaseSensitiveMatch, "sqlite")
def _compile_match_sqlite(element: _CaseSensitiveMatch, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    value = compiler.process(element.value, **kw)
    if element.mode == "startswith":
        return f"(substr({column}, 1, length({value})) = {value})"
    if element.mode == "endswith":
        return (
            f"(length({column}) >= length({value}) "
            f"AND substr({column}, -length({value})) = {value})"
        )
    return f"(instr({column}, {value}) > 0)"


def case_insensitive_contains(column: ColumnElement[Any], text: str) -> Clause:
    """``column`` contains ``text``, ignoring case (ASCII case on SQLite)."""
    return column.ilike("%" + escape_like(text) + "%", escape="\\")


@dataclass(frozen=True)
class FilterSpec:
    """One allowed ``field__op`` query parameter.

    ``field`` may be a dotted path through relationships (``team.name``): a to-one path compares
    a joined column (``joins`` names the joins it needs), a to-many path matches rows that have
    at least one related row meeting the condition (``EXISTS``). A spec that is not
    ``documented`` is a second spelling of another (``name__eq`` beside ``name``): the route
    takes it, the OpenAPI document leaves it out.
    """

    alias: str
    field: str
    op: str
    column: ColumnElement[Any]
    value_type: type[Any]
    bounds: Mapping[str, Any]
    joins: tuple[str, ...] = ()
    exists: Callable[..., Clause] | None = None
    documented: bool = True

    def clause(self, value: Any, seen: Restriction | None = None) -> Clause:
        """The SQL condition for a parsed value; a to-many path crosses only rows ``seen``
        lets the request see."""
        if self.exists is not None:
            return self.exists(lambda column: compare(column, self.op, value), seen)
        return compare(self.column, self.op, value)


def compare(col: ColumnElement[Any], op: str, value: Any) -> Clause:
    """``col <op> value`` for a parsed value."""
    if op == "isnull":
        return col.is_(None) if value else col.is_not(None)
    if op in ("in", "not_in"):
        return col.in_(value) if op == "in" else col.not_in(value)
    if op == "between":
        low, high = value
        return col.between(low, high)
    if op == "ilike":
        return case_insensitive_contains(col, value)
    if op in ("like", "contains", "startswith", "endswith"):
        return _CaseSensitiveMatch(col, value, op)
    comparisons: dict[str, Callable[[Any], Clause]] = {
        "eq": col.__eq__,
        "ne": lambda v: or_(col != v, col.is_(None)),
        "gt": col.__gt__,
        "gte": col.__ge__,
        "lt": col.__lt__,
        "lte": col.__le__,
    }
    return comparisons[op](value)


@dataclass(frozen=True)
class Target:
    """Where a filter, sort or search field points: a column, or a column across relations."""

    column: ColumnElement[Any]
    source: Column[Any]
    joins: tuple[str, ...] = ()
    path: Path | None = None


def resolve_target(info: ModelInfo, joins: Joins, name: str, option: str) -> Target:
    """A column of the model, or a dotted relationship path; `ConfigurationError` otherwise."""
    if "." not in name:
        column = info.columns.get(name)
        if column is None:
            raise ConfigurationError(
                f"{option} names {name!r}, which is not a column of {info.resource}; "
                f"columns: {', '.join(info.columns)}"
            )
        return Target(column, column)
    path = resolve_path(info.model.__mapper__, name, option)
    if path.to_many:
        return Target(path.column, path.column, (), path)
    return Target(joins.add(path), path.column, path.joins, path)


FilterFields = Mapping[str, Sequence[str] | Literal["*"]] | Sequence[str]
"""``{"age": ["gte", "lte"], "name": "*"}``; a list of names allows every fitting operator."""


def build_filter_specs(
    info: ModelInfo, filter_fields: FilterFields | None, joins: Joins
) -> list[FilterSpec]:
    """Check the allowed filters against the model; raise `ConfigurationError` on a mistake."""
    if filter_fields is None:
        return []
    if isinstance(filter_fields, str):
        raise ConfigurationError("filter_fields must be a mapping or a list of field names")
    items: list[tuple[str, Sequence[str] | str]]
    if isinstance(filter_fields, Mapping):
        items = list(filter_fields.items())
    else:
        items = [(name, "*") for name in filter_fields]
    specs: list[FilterSpec] = []
    for field, ops in items:
        if not isinstance(field, str):
            raise ConfigurationError(f"filter_fields names must be strings, got {field!r}")
        if isinstance(ops, str) and ops != "*" or not isinstance(ops, str | Sequence):
            raise ConfigurationError(
                f"filter_fields[{field!r}] must be a list of operators or '*', got {ops!r}; "
                f"for example {{{field!r}: [{ops!r}]}}"
            )
        target = resolve_target(info, joins, field, "filter_fields")
        column = target.source
        value_type = python_type(column)
        exists = None
        if target.path is not None and target.path.to_many:
            exists = partial(exists_clause, info.model.__mapper__, target.path)
        fitting = operators_for(value_type)
        wanted = list(fitting) if ops == "*" else list(ops)
        for op in wanted:
            if op not in OPERATORS:
                raise ConfigurationError(
                    f"unknown filter operator {op!r} for {field}; known: {', '.join(OPERATORS)}"
                )
            if op not in fitting:
                raise ConfigurationError(
                    f"operator {op!r} does not fit {field} ({getattr(value_type, '__name__', '?')}"
                    f"); it allows: {', '.join(fitting)}"
                )
        for op in wanted:
            # ``eq`` is spelt ``name`` and ``name__eq``; the document shows the bare name only.
            aliases = [(f"{field}__{op}", op != "eq")] + ([(field, True)] if op == "eq" else [])
            for alias, documented in aliases:
                specs.append(
                    FilterSpec(
                        alias=alias,
                        field=field,
                        op=op,
                        column=target.column,
                        value_type=value_type or str,
                        bounds=_text_bounds(column),
                        joins=target.joins,
                        exists=exists,
                        documented=documented,
                    )
                )
    return specs


def _text_bounds(column: Any) -> Mapping[str, Any]:
    bounds = dict(column_bounds(column))
    if isinstance(column.type, String | Text) and "max_length" not in bounds:
        bounds["max_length"] = DEFAULT_MAX_TEXT
    return bounds
