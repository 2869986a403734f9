"""The SQL of a resource and the list route's query language: filters (across relationships
too), sort, search, field selection, counts, pages and keyset cursors.

Entry points: `ListSpec` (what a list request may ask, checked once), `Queries` (the statements
of a resource), `Page` (the response of a list).
"""

from ._cursor import MAX_CURSOR_LENGTH, CursorCodec, CursorError
from ._filters import (
    DEFAULT_MAX_TEXT,
    MAX_IN_VALUES,
    Clause,
    FilterFields,
    FilterSpec,
    build_filter_specs,
)
from ._page import DEFAULT_MAX_OFFSET, Page, check_limits, check_positive
from ._sort import Sort, SortKey, build_sort_keys
from ._spec import (
    LIST_PARAMS,
    CountMode,
    ListSpec,
    Search,
    allowed_query_names,
    build_search,
    check_count_mode,
    query_error,
)
from ._statements import KEY_LABEL, VERSION_LABEL, Queries

__all__ = [
    "DEFAULT_MAX_OFFSET",
    "DEFAULT_MAX_TEXT",
    "KEY_LABEL",
    "LIST_PARAMS",
    "MAX_CURSOR_LENGTH",
    "MAX_IN_VALUES",
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
    "build_filter_specs",
    "build_search",
    "build_sort_keys",
    "check_count_mode",
    "check_limits",
    "check_positive",
    "query_error",
]
