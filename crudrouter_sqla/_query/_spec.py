"""The list route's query language: filters, sort, search, field selection, counts, cursors.

Everything that can be checked or built once is done when the router is built; a request only
parses its own parameters.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import Column, ColumnElement, and_, or_, true

from .._model import Joins, ModelInfo, Restriction, adapter_for, column_bounds, python_type
from ..errors import ConfigurationError
from ._cursor import CursorCodec, CursorError
from ._filters import (
    DEFAULT_MAX_TEXT,
    MAX_IN_VALUES,
    Clause,
    FilterSpec,
    case_insensitive_contains,
    resolve_target,
)
from ._groups import GROUP_PARAMS, Grammar, Group, GroupError, Leaf
from ._patterns import alternation, scalar_value
from ._sort import Sort, SortKey

CountMode = Literal["exact", "none", "estimated"]
COUNT_MODES: tuple[CountMode, ...] = ("exact", "none", "estimated")
LIST_PARAMS = (
    "offset",
    "page",
    "limit",
    "sort",
    "fields",
    "count",
    "cursor",
    "q",
    "deleted",
    *GROUP_PARAMS,
)
"""The list route's own query parameters; no filter may take their names."""
NUL_MESSAGE = "text may not contain NUL characters"
DEFAULT_ESTIMATE_THRESHOLD = 1000
"""Below this many rows, a PostgreSQL estimate is replaced by an exact count."""
LIST_OPS = ("in", "not_in", "between")
"""Operators whose value is several comma-separated values."""


def list_pattern(spec: FilterSpec) -> str:
    """The documented pattern of an ``in``, ``not_in`` or ``between`` parameter."""
    limit = int(spec.bounds.get("max_length", DEFAULT_MAX_TEXT))
    value = scalar_value(spec.value_type, spec.bounds, f"[^,\\x00]{{0,{limit}}}")
    if spec.op == "between":
        return f"^{value},{value}$"
    return f"^(?:{value}(?:,{value}){{0,{MAX_IN_VALUES - 1}}})?$"


def validation_error(
    loc: tuple[Any, ...], message: str, value: Any = None, kind: str = "value_error"
) -> RequestValidationError:
    """A 422 for one part of a request (``("query", name)``, ``("body", name)``...), in
    FastAPI's validation error shape."""
    return RequestValidationError([{"type": kind, "loc": loc, "msg": message, "input": value}])


def query_error(name: str, message: str, value: Any = None) -> RequestValidationError:
    """A 422 naming a query parameter, in FastAPI's validation error shape."""
    return validation_error(("query", name), message, value)


@dataclass
class ListSpec:
    """What the list route accepts, fixed when the router is built."""

    info: ModelInfo
    joins: Joins
    filters: list[FilterSpec]
    sort_keys: dict[str, SortKey]
    search: Search
    read_fields: list[str]
    count: CountMode
    strict: bool
    codec: CursorCodec
    allowed_params: frozenset[str] = field(default_factory=frozenset)
    repeatable_params: frozenset[str] = field(default_factory=frozenset)
    params_of: Callable[[], tuple[frozenset[str], frozenset[str]]] | None = None
    """Gives `allowed_params` and `repeatable_params` on first use (the route's dependencies
    are read when the route is first used)."""
    estimate_threshold: int = DEFAULT_ESTIMATE_THRESHOLD
    _sorts: dict[str, Sort] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = sorted(set(LIST_PARAMS) & {s.alias for s in self.filters})
        if clash:
            raise ConfigurationError(f"filter names clash with list parameters: {clash}")
        # The primary key ends every sort, so the order is total.
        self._pk_keys = tuple(
            SortKey(part.key, part.column, False, part.type, False) for part in self.info.key
        )
        self._default_sort = Sort("", self._pk_keys)
        sortable = alternation(self.sort_keys)
        self.sort_pattern = f"^(?:-?{sortable}(?:,-?{sortable})*)?$"
        readable = alternation(self.read_fields)
        self.fields_pattern = f"^{readable}(?:,{readable})*$"
        self._sort_regex = re.compile(self.sort_pattern)
        self._fields_regex = re.compile(self.fields_pattern)
        self.list_patterns = {
            s.alias: re.compile(list_pattern(s)) for s in self.filters if s.op in LIST_OPS
        }
        self.grammar = Grammar(self.filters) if self.filters else None

    def check_unknown(self, items: Sequence[tuple[str, str]]) -> None:
        """Refuse a parameter the route does not declare (when strict), and a parameter given
        more than once unless it is declared as a list."""
        if self.params_of is not None:
            self.allowed_params, self.repeatable_params = self.params_of()
            self.params_of = None
        seen: set[str] = set()
        for name, _ in items:
            if self.strict and name not in self.allowed_params:
                allowed = ", ".join(sorted(self.allowed_params))
                raise query_error(name, f"unknown query parameter; allowed: {allowed}")
            if name in seen and name not in self.repeatable_params:
                raise query_error(name, "given more than once; give it once")
            seen.add(name)

    def parse_value(self, spec: FilterSpec, raw: str, name: str, bounded: bool = True) -> Any:
        """One value of a filter, parsed with its column's type (and bounds, when
        ``bounded``)."""
        if "\x00" in raw:
            raise query_error(name, NUL_MESSAGE)
        value_type = bool if spec.op == "isnull" else spec.value_type
        try:
            value = adapter_for(value_type).validate_python(raw, strict=False)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"]
            raise query_error(name, f"{spec.alias}: {message}", raw) from None
        if bounded:
            _check_bounds(spec, value, name)
        return value

    def filter_clause(self, spec: FilterSpec, raw: Any, seen: Restriction | None = None) -> Clause:
        if isinstance(raw, str) and "\x00" in raw:
            raise query_error(spec.alias, NUL_MESSAGE)
        if spec.op in LIST_OPS:
            text = str(raw)
            parts = text.split(",") if text != "" else []
            if len(parts) > MAX_IN_VALUES:
                raise query_error(spec.alias, f"at most {MAX_IN_VALUES} values", raw)
            if spec.op == "between" and len(parts) != 2:
                raise query_error(spec.alias, "give two values, low,high", raw)
            values = [self.parse_value(spec, p, spec.alias) for p in parts]
            if not self.list_patterns[spec.alias].match(text):
                raise query_error(spec.alias, "does not match the documented pattern", raw)
            return spec.clause(values, seen)
        return spec.clause(raw, seen)

    def group_clause(
        self, kind: str, text: str, joins: list[str], seen: Restriction | None = None
    ) -> Clause:
        """The clause of an ``or``, ``and`` or ``not`` parameter; the joins its conditions
        need are added to ``joins``."""
        assert self.grammar is not None
        try:
            group = self.grammar.parse(kind, text)
            clause = self._group(group, kind, joins, seen)
            self.grammar.check(text)
        except GroupError as exc:
            raise query_error(kind, str(exc), text) from None
        return clause

    def _group(self, group: Group, name: str, joins: list[str], seen: Restriction | None) -> Clause:
        parts: list[Clause] = []
        for item in group.items:
            if isinstance(item, Leaf):
                spec = item.spec
                if isinstance(item.value, list):
                    value: Any = [self.parse_value(spec, v, name, False) for v in item.value]
                else:
                    value = self.parse_value(spec, item.value, name, False)
                parts.append(_in_range_clause(spec, value, seen))
                joins.extend(spec.joins)
            else:
                parts.append(self._group(item, name, joins, seen))
        if group.kind == "or":
            return or_(*parts)
        combined = and_(*parts)
        # "Not" keeps the rows for which the conditions are not all true, nulls included.
        return combined.is_not(true()) if group.kind == "not" else combined

    def search_clause(self, text: str) -> Clause:
        if "\x00" in text:
            raise query_error("q", NUL_MESSAGE)
        return or_(*[case_insensitive_contains(col, text) for col in self.search.columns])

    def parse_sort(self, spelling: str | None) -> Sort:
        """The sort a request asks for; the primary key alone when it asks for none."""
        if not spelling:
            return self._default_sort
        cached = self._sorts.get(spelling)
        if cached is None:
            cached = self._parse_sort(spelling)
            if len(self._sorts) < 256:
                self._sorts[spelling] = cached
        return cached

    def _parse_sort(self, spelling: str) -> Sort:
        keys: list[SortKey] = []
        seen: set[str] = set()
        for part in spelling.split(","):
            descending = part.startswith("-")
            name = part.removeprefix("-")
            key = self.sort_keys.get(name)
            if key is None:
                allowed = ", ".join(self.sort_keys)
                raise query_error("sort", f"cannot sort by {name!r}; allowed: {allowed}", spelling)
            if name in seen:
                # A later key on the same field orders nothing the first has not ordered.
                continue
            seen.add(name)
            keys.append(replace(key, descending=descending))
        if not self._sort_regex.match(spelling):
            raise query_error("sort", "does not match the documented pattern", spelling)
        keys.extend(key for key in self._pk_keys if key.name not in seen)
        return Sort(",".join(("-" if k.descending else "") + k.name for k in keys), tuple(keys))

    def parse_fields(self, spelling: str | None) -> tuple[str, ...] | None:
        if spelling is None:
            return None
        names = tuple(dict.fromkeys(spelling.split(",")))
        unknown = [n for n in names if n not in self.read_fields]
        if unknown or not self._fields_regex.match(spelling):
            allowed = ", ".join(self.read_fields)
            what = f"unknown field {unknown[0]!r}" if unknown else "no field named"
            raise query_error("fields", f"{what}; allowed: {allowed}", spelling)
        return names

    def decode_cursor(self, cursor: str, sort: Sort) -> list[Any]:
        """The sort values a cursor carries (None where the read schema hides the key: the
        route reads those from the cursor's row); 404 when it names no page of this list (a
        cursor names a position the server handed out, as an id names a row)."""
        try:
            return self.codec.decode(
                cursor,
                sort.spelling,
                [k.value_type for k in sort.keys],
                [
                    column_bounds(k.column) if isinstance(k.column, Column) else None
                    for k in sort.keys
                ],
            )
        except CursorError as exc:
            raise cursor_not_found(str(exc)) from None

    def encode_cursor(self, sort: Sort, values: Sequence[Any]) -> str:
        """The cursor after the row with these sort values: the values the read schema hides
        are left out (the key, which ends every sort, names the row)."""
        hidden = sort.hidden
        if hidden:
            values = [None if i in hidden else v for i, v in enumerate(values)]
        return self.codec.encode(sort.spelling, values, [k.value_type for k in sort.keys])


def cursor_not_found(reason: str) -> HTTPException:
    """The 404 of a cursor that names no page of the list."""
    return HTTPException(404, f"The cursor names no page of this list: {reason}")


def _in_range_clause(spec: FilterSpec, value: Any, seen: Restriction | None) -> Clause:
    """The clause of a condition in a group, where integers beyond the column's range compare
    as numbers do: such a value equals no row, differs from every row, and bounds nothing, so
    it is rewritten to the equivalent comparison with the column's own bound (never sent to
    the database, which could not hold it)."""
    if "ge" not in spec.bounds or spec.value_type is bool or not issubclass(spec.value_type, int):
        return spec.clause(value, seen)
    low, high = spec.bounds["ge"], spec.bounds["le"]
    op = spec.op

    def compare_with(make: Callable[[ColumnElement[Any]], Clause]) -> Clause:
        return spec.exists(make, seen) if spec.exists is not None else make(spec.column)

    if op in ("in", "not_in"):
        kept = [v for v in value if low <= v <= high]
        if op == "not_in" and not kept:
            # Every value differs from all of them; null stays unknown, as NOT IN keeps it.
            return compare_with(lambda col: col.is_not(None))
        return spec.clause(kept, seen)
    if op == "between":
        start, end = value
        if start > high or end < low or start > end:
            return compare_with(lambda col: col > high)  # no value of the column
        return spec.clause([max(start, low), min(end, high)], seen)
    if op == "isnull" or low <= value <= high:
        return spec.clause(value, seen)

    above = value > high
    if op == "ne":
        return compare_with(lambda col: or_(col <= high, col.is_(None)))
    if op in ("eq", "gt", "gte"):
        # Nothing equals it; above the range nothing is greater, below it every value is.
        return compare_with(lambda col: col > high if op == "eq" or above else col >= low)
    # lt, lte: below the range nothing is smaller, above it every value is.
    return compare_with(lambda col: col <= high if above else col < low)


def _check_bounds(spec: FilterSpec, value: Any, name: str) -> None:
    bounds = spec.bounds
    if isinstance(value, int) and not isinstance(value, bool) and "ge" in bounds:
        if not bounds["ge"] <= value <= bounds["le"]:
            raise query_error(name, f"{spec.alias}: a value is out of range for the column")
    if (
        name == spec.alias
        and isinstance(value, str)
        and "max_length" in bounds
        and len(value) > bounds["max_length"]
    ):
        raise query_error(name, f"values are at most {bounds['max_length']} characters")


@dataclass(frozen=True)
class Search:
    """The text columns ``q`` searches (case-insensitive contains, OR-ed) and their joins."""

    columns: tuple[ColumnElement[Any], ...] = ()
    joins: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


def build_search(info: ModelInfo, joins: Joins, search_fields: Sequence[str]) -> Search:
    """The search over text columns or to-one paths (``team.name``)."""
    if isinstance(search_fields, str) or not isinstance(search_fields, Sequence):
        raise ConfigurationError(
            f"search_fields must be a list of field names, got {search_fields!r}; for example "
            f"[{search_fields!r}]"
        )
    columns: list[ColumnElement[Any]] = []
    needed: list[str] = []
    for name in search_fields:
        target = resolve_target(info, joins, name, "search_fields")
        if python_type(target.source) is not str:
            raise ConfigurationError(
                f"search_fields names {name!r}, which is not a text column of {info.resource}"
            )
        if target.path is not None and target.path.to_many:
            raise ConfigurationError(
                f"search_fields names {name!r}, a path through a to-many relationship; "
                f"search columns and to-one paths"
            )
        columns.append(target.column)
        needed.extend(target.joins)
    return Search(tuple(columns), tuple(needed), tuple(search_fields))


def check_count_mode(mode: CountMode) -> CountMode:
    """Raise `ConfigurationError` unless ``mode`` is a count mode."""
    if mode not in COUNT_MODES:
        raise ConfigurationError(f"count must be one of {', '.join(COUNT_MODES)}, got {mode!r}")
    return mode


def allowed_query_names(dependant: Any) -> tuple[frozenset[str], frozenset[str]]:
    """Every query parameter a route's dependency tree declares, and those of them declared
    as lists (which a client may repeat)."""
    names: set[str] = set()
    repeatable: set[str] = set()
    todo = [dependant]
    while todo:
        current = todo.pop()
        for param in current.query_params:
            model = getattr(param.field_info, "annotation", None)
            if isinstance(model, type) and issubclass(model, BaseModel):
                # A query model: each of its fields is a parameter.
                own, lists = model_query_names(model)
                names |= own
                repeatable |= lists
            else:
                names.add(param.alias)
                if is_sequence(model):
                    repeatable.add(param.alias)
        todo.extend(current.dependencies)
    return frozenset(names), frozenset(repeatable)


def model_query_names(model: type[BaseModel]) -> tuple[frozenset[str], frozenset[str]]:
    """The query parameters a query model declares (by alias), and those of them declared as
    lists."""
    fields = model.model_fields
    names = frozenset(f.alias or n for n, f in fields.items())
    lists = frozenset(f.alias or n for n, f in fields.items() if is_sequence(f.annotation))
    return names, lists


def is_sequence(annotation: Any) -> bool:
    """Whether a parameter's type is a list (or an optional list), which FastAPI fills from a
    repeated parameter."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return is_sequence(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(is_sequence(a) for a in typing.get_args(annotation))
    check = origin or annotation
    return isinstance(check, type) and issubclass(check, list | set | frozenset | tuple)
