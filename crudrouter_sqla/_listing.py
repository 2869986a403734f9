"""The list route's query language: filters, sort, search, field selection, counts, cursors.

Everything that can be checked or built once is done when the router is built; a request only
parses its own parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import Column, ColumnElement, and_, false, or_, tuple_

from ._adapters import adapter_for
from ._cursor import CursorCodec, CursorError
from ._filters import MAX_IN_VALUES, Clause, FilterSpec, case_insensitive_contains
from ._model import ModelInfo, python_type
from .errors import ConfigurationError

CountMode = Literal["exact", "none", "estimated"]
COUNT_MODES: tuple[CountMode, ...] = ("exact", "none", "estimated")
LIST_PARAMS = ("offset", "limit", "sort", "fields", "count", "cursor", "q")
"""The list route's own query parameters; no filter may take their names."""
NUL_MESSAGE = "text may not contain NUL characters"


def query_error(name: str, message: str, value: Any = None) -> RequestValidationError:
    """A 422 naming a query parameter, in FastAPI's validation error shape."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


@dataclass(frozen=True)
class SortKey:
    """One column of an ORDER BY: ascending puts nulls last, descending puts them first."""

    name: str
    column: Column[Any]
    descending: bool
    value_type: type[Any]

    @property
    def nullable(self) -> bool:
        return bool(self.column.nullable)

    def order(self) -> ColumnElement[Any]:
        if self.descending:
            return self.column.desc().nulls_first() if self.nullable else self.column.desc()
        return self.column.asc().nulls_last() if self.nullable else self.column.asc()

    def after(self, value: Any) -> Clause | None:
        """Rows that come after ``value`` in this key's order (None: no row does)."""
        col = self.column
        if self.descending:
            if value is None:
                return col.is_not(None)
            before: Clause = col < value
            return before
        if value is None:
            return None
        after: Clause = or_(col > value, col.is_(None)) if self.nullable else col > value
        return after

    def same(self, value: Any) -> Clause:
        return self.column.is_(None) if value is None else self.column == value


@dataclass(frozen=True)
class Sort:
    """A parsed ``sort`` parameter with the primary key appended as the final tiebreaker."""

    spelling: str
    keys: tuple[SortKey, ...]

    def order_by(self) -> list[ColumnElement[Any]]:
        return [key.order() for key in self.keys]

    def after(self, values: Sequence[Any]) -> Clause:
        """Rows after the row whose key values are ``values`` (keyset pagination)."""
        keys = self.keys
        if all(not k.nullable for k in keys) and len({k.descending for k in keys}) == 1:
            # One row-value comparison lets the database seek an index.
            left = tuple_(*[k.column for k in keys])
            right = tuple_(*values)
            return left < right if keys[0].descending else left > right
        branches: list[Clause] = []
        for i, key in enumerate(keys):
            step = key.after(values[i])
            if step is None:
                continue
            same = [k.same(v) for k, v in zip(keys[:i], values[:i], strict=True)]
            branches.append(and_(*same, step) if same else step)
        return or_(*branches) if branches else false()


@dataclass
class ListSpec:
    """What the list route accepts, fixed when the router is built."""

    info: ModelInfo
    filters: list[FilterSpec]
    sort_columns: dict[str, Column[Any]]
    search_columns: list[Column[Any]]
    read_fields: list[str]
    count: CountMode
    strict: bool
    codec: CursorCodec
    allowed_params: frozenset[str] = field(default_factory=frozenset)
    _sorts: dict[str, Sort] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = sorted(set(LIST_PARAMS) & {s.alias for s in self.filters})
        if clash:
            raise ConfigurationError(f"filter names clash with list parameters: {clash}")
        self._pk_key = SortKey(self.info.pk_key, self.info.pk_column, False, self.info.pk_type)

    def check_unknown(self, names: Sequence[str]) -> None:
        if not self.strict:
            return
        for name in names:
            if name not in self.allowed_params:
                allowed = ", ".join(sorted(self.allowed_params))
                raise query_error(name, f"unknown query parameter; allowed: {allowed}")

    def filter_clause(self, spec: FilterSpec, raw: Any) -> Clause:
        if isinstance(raw, str) and "\x00" in raw:
            raise query_error(spec.alias, NUL_MESSAGE)
        if spec.op in ("in", "not_in"):
            parts = [p.strip() for p in str(raw).split(",")] if raw != "" else []
            if len(parts) > MAX_IN_VALUES:
                raise query_error(spec.alias, f"at most {MAX_IN_VALUES} values", raw)
            adapter = adapter_for(spec.value_type)
            try:
                values = [adapter.validate_python(p, strict=False) for p in parts]
            except ValidationError as exc:
                message = exc.errors()[0]["msg"]
                raise query_error(spec.alias, f"each value must fit: {message}", raw) from None
            for value in values:
                _check_bounds(spec, value)
            return spec.clause(values)
        return spec.clause(raw)

    def search_clause(self, text: str) -> Clause:
        if "\x00" in text:
            raise query_error("q", NUL_MESSAGE)
        return or_(*[case_insensitive_contains(col, text) for col in self.search_columns])

    def parse_sort(self, spelling: str | None) -> Sort:
        spelling = spelling or ""
        cached = self._sorts.get(spelling)
        if cached is None:
            cached = self._parse_sort(spelling)
            if len(self._sorts) < 256:
                self._sorts[spelling] = cached
        return cached

    def _parse_sort(self, spelling: str) -> Sort:
        if not spelling:
            return Sort("", (self._pk_key,))
        keys: list[SortKey] = []
        seen: set[str] = set()
        for part in spelling.split(","):
            part = part.strip()
            descending = part.startswith("-")
            name = part.lstrip("-+")
            column = self.sort_columns.get(name)
            if column is None:
                allowed = ", ".join(self.sort_columns)
                raise query_error("sort", f"cannot sort by {name!r}; allowed: {allowed}", spelling)
            if name in seen:
                raise query_error("sort", f"{name!r} appears twice", spelling)
            seen.add(name)
            keys.append(SortKey(name, column, descending, python_type(column) or str))
        if self.info.pk_key not in seen:
            keys.append(self._pk_key)
        return Sort(",".join(("-" if k.descending else "") + k.name for k in keys), tuple(keys))

    def parse_fields(self, spelling: str | None) -> tuple[str, ...] | None:
        if spelling is None:
            return None
        names = tuple(dict.fromkeys(p.strip() for p in spelling.split(",") if p.strip()))
        unknown = [n for n in names if n not in self.read_fields]
        if unknown or not names:
            allowed = ", ".join(self.read_fields)
            what = f"unknown field {unknown[0]!r}" if unknown else "no field named"
            raise query_error("fields", f"{what}; allowed: {allowed}", spelling)
        return names

    def decode_cursor(self, cursor: str, sort: Sort) -> Clause:
        try:
            values = self.codec.decode(cursor, sort.spelling, [k.value_type for k in sort.keys])
        except CursorError as exc:
            raise query_error("cursor", str(exc)) from None
        return sort.after(values)

    def encode_cursor(self, sort: Sort, values: Sequence[Any]) -> str:
        return self.codec.encode(sort.spelling, values, [k.value_type for k in sort.keys])


def _check_bounds(spec: FilterSpec, value: Any) -> None:
    bounds = spec.bounds
    if isinstance(value, int) and not isinstance(value, bool) and "ge" in bounds:
        if not bounds["ge"] <= value <= bounds["le"]:
            raise query_error(spec.alias, "a value is out of range for the column", None)
    if isinstance(value, str) and "max_length" in bounds and len(value) > bounds["max_length"]:
        raise query_error(spec.alias, f"values are at most {bounds['max_length']} characters")


def build_sort_columns(
    info: ModelInfo, read_fields: Sequence[str], sort_fields: Sequence[str] | None
) -> dict[str, Column[Any]]:
    """The allowed sort fields: given, or every scalar column of the read schema."""
    if sort_fields is None:
        return {name: info.columns[name] for name in read_fields if name in info.columns}
    result: dict[str, Column[Any]] = {}
    for name in sort_fields:
        if name not in info.columns:
            raise ConfigurationError(
                f"sort_fields names {name!r}, which is not a column of {info.resource}"
            )
        result[name] = info.columns[name]
    return result


def build_search_columns(info: ModelInfo, search_fields: Sequence[str]) -> list[Column[Any]]:
    """The text columns ``q`` searches."""
    columns = []
    for name in search_fields:
        column = info.columns.get(name)
        if column is None or python_type(column) is not str:
            raise ConfigurationError(
                f"search_fields names {name!r}, which is not a text column of {info.resource}"
            )
        columns.append(column)
    return columns


def check_count_mode(mode: CountMode) -> CountMode:
    """Raise `ConfigurationError` unless ``mode`` is a count mode."""
    if mode not in COUNT_MODES:
        raise ConfigurationError(f"count must be one of {', '.join(COUNT_MODES)}, got {mode!r}")
    return mode


def allowed_query_names(dependant: Any) -> frozenset[str]:
    """Every query parameter a route's dependency tree declares."""
    names: set[str] = set()
    todo = [dependant]
    while todo:
        current = todo.pop()
        for param in current.query_params:
            model = getattr(param.field_info, "annotation", None)
            if isinstance(model, type) and issubclass(model, BaseModel):
                # A query model: each of its fields is a parameter.
                names.update(f.alias or n for n, f in model.model_fields.items())
            else:
                names.add(param.alias)
        todo.extend(current.dependencies)
    return frozenset(names)
