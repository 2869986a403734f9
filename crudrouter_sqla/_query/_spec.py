"""The list route's query language: filters, sort, search, field selection, counts, cursors.

Everything that can be checked or built once is done when the router is built; a request only
parses its own parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, or_

from .._model import Joins, ModelInfo, adapter_for, python_type
from ..errors import ConfigurationError
from ._cursor import CursorCodec, CursorError
from ._filters import MAX_IN_VALUES, Clause, FilterSpec, case_insensitive_contains, resolve_target
from ._sort import Sort, SortKey

CountMode = Literal["exact", "none", "estimated"]
COUNT_MODES: tuple[CountMode, ...] = ("exact", "none", "estimated")
LIST_PARAMS = ("offset", "page", "limit", "sort", "fields", "count", "cursor", "q", "deleted")
"""The list route's own query parameters; no filter may take their names."""
NUL_MESSAGE = "text may not contain NUL characters"


def query_error(name: str, message: str, value: Any = None) -> RequestValidationError:
    """A 422 naming a query parameter, in FastAPI's validation error shape."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


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
    _sorts: dict[str, Sort] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = sorted(set(LIST_PARAMS) & {s.alias for s in self.filters})
        if clash:
            raise ConfigurationError(f"filter names clash with list parameters: {clash}")
        # The primary key ends every sort, so the order is total.
        self._pk_keys = tuple(
            SortKey(part.key, part.column, False, part.type, False) for part in self.info.key
        )

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
        return or_(*[case_insensitive_contains(col, text) for col in self.search.columns])

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
            return Sort("", self._pk_keys)
        keys: list[SortKey] = []
        seen: set[str] = set()
        for part in spelling.split(","):
            part = part.strip()
            descending = part.startswith("-")
            name = part.lstrip("-+")
            key = self.sort_keys.get(name)
            if key is None:
                allowed = ", ".join(self.sort_keys)
                raise query_error("sort", f"cannot sort by {name!r}; allowed: {allowed}", spelling)
            if name in seen:
                raise query_error("sort", f"{name!r} appears twice", spelling)
            seen.add(name)
            keys.append(replace(key, descending=descending))
        keys.extend(key for key in self._pk_keys if key.name not in seen)
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


@dataclass(frozen=True)
class Search:
    """The text columns ``q`` searches (case-insensitive contains, OR-ed) and their joins."""

    columns: tuple[ColumnElement[Any], ...] = ()
    joins: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


def build_search(info: ModelInfo, joins: Joins, search_fields: Sequence[str]) -> Search:
    """The search over text columns or to-one paths (``team.name``)."""
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
