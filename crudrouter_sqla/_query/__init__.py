"""The SQL of a resource and the list route's query language: filters (across relationships
too), sort, search, field selection, counts, pages and keyset cursors.

Entry points: `ListSpec` (what a list request may ask, checked once; filters, groups such as
``or=(...)``, sort, fields, cursors), `Queries` (the statements of a resource), `Page` (the
response of a list). `_patterns` writes the regular expressions the document states.
"""

from ._aggregates import Aggregates, AggregateSpec, build_aggregates
from ._cursor import MAX_CURSOR_LENGTH, CursorCodec, CursorError
from ._filters import (
    DEFAULT_MAX_TEXT,
    MAX_IN_VALUES,
    Clause,
    FilterFields,
    FilterSpec,
    build_filter_specs,
)
from ._groups import GROUP_PARAMS
from ._groups import MAX_LENGTH as GROUP_MAX_LENGTH
from ._page import DEFAULT_MAX_OFFSET, Page, check_limits, check_positive
from ._patterns import NO_NUL
from ._sort import Sort, SortKey, build_sort_keys
from ._spec import (
    DEFAULT_ESTIMATE_THRESHOLD,
    LIST_OPS,
    LIST_PARAMS,
    CountMode,
    ListSpec,
    Search,
    allowed_query_names,
    build_search,
    check_count_mode,
    cursor_not_found,
    list_pattern,
    query_error,
    validation_error,
)
from ._statements import KEY_LABEL, VERSION_LABEL, Queries

__all__ = [
    "AggregateSpec",
    "Aggregates",
    "DEFAULT_ESTIMATE_THRESHOLD",
    "DEFAULT_MAX_OFFSET",
    "DEFAULT_MAX_TEXT",
    "GROUP_MAX_LENGTH",
    "GROUP_PARAMS",
    "KEY_LABEL",
    "LIST_OPS",
    "LIST_PARAMS",
    "MAX_CURSOR_LENGTH",
    "MAX_IN_VALUES",
    "NO_NUL",
    "VERSION_LABEL",
    "Clause",
    "CountMode",
    "CursorCodec",
    "CursorError",
    "FilterFields",
    "FilterSpec",
    "ListSpec",
    "Page",
    "Queries",
    "Search",
    "Sort",
    "SortKey",
    "allowed_query_names",
    "build_aggregates",
    "build_filter_specs",
    "build_search",
    "build_sort_keys",
    "check_count_mode",
    "cursor_not_found",
    "check_limits",
    "check_positive",
    "list_pattern",
    "query_error",
    "validation_error",
]
