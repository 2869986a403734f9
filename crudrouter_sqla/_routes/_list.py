"""The generated list route: one page of rows under the query language of `ListSpec`."""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Response
from pydantic import (
    AfterValidator,
    Field,
    TypeAdapter,
    WithJsonSchema,
)
from sqlalchemy import ClauseElement, Executable, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from .._guard import Visibility
from .._query import (
    DEFAULT_MAX_TEXT,
    GROUP_MAX_LENGTH,
    GROUP_PARAMS,
    LIST_OPS,
    MAX_CURSOR_LENGTH,
    MAX_IN_VALUES,
    NO_NUL,
    Clause,
    CountMode,
    FilterSpec,
    ListSpec,
    Sort,
    cursor_not_found,
    query_error,
)
from .._query._page_numbers import page_count
from .._query._patterns import scalar_value
from ._execute import check_parent, embed_options, execute
from ._params import context_params, param, scope_of, seen_by, with_signature
from ._query_params import CommaSeparated, QueryModel, Undocumented, with_query
from ._resource import JSON, Endpoint, Resource

_DESCRIPTIONS = {
    "eq": "equals",
    "ne": "differs from (or is null)",
    "gt": "greater than",
    "gte": "greater than or equal to",
    "lt": "less than",
    "lte": "less than or equal to",
    "in": "is one of these values",
    "not_in": "is none of these values",
    "between": "is between these two values (low,high), both included",
    "like": "contains this text (case-sensitive)",
    "contains": "contains this text (case-sensitive)",
    "ilike": "contains this text, ignoring case",
    "startswith": "starts with this text (case-sensitive)",
    "endswith": "ends with this text (case-sensitive)",
    "isnull": "is null (true) or is not null (false)",
}


class Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON)`` of a statement, for PostgreSQL's row estimate."""

    inherit_cache = False

    def __init__(self, statement: Any) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _compile_explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def _string(pattern: str, max_length: int) -> Any:
    """A string parameter documented with the pattern the route checks it against."""
    schema = {"type": "string", "pattern": pattern, "maxLength": max_length}
    return Annotated[str | None, WithJsonSchema(schema)]


_UNBOUNDED = 10**18 - 1
"""The largest integer a list filter on an integer column without bounds takes (its pattern's
18 digits)."""


def _item_schema(spec: FilterSpec, limit: int) -> dict[str, Any]:
    """The documented schema of one value of an ``in``, ``not_in`` or ``between`` filter: the
    column's own type where the route reads exactly that (integers in the column's range, the
    enum's values), else text matching the value's pattern. Text never holds a comma, which
    separates the values."""
    value_type = spec.value_type
    if issubclass(value_type, enum.Enum):
        # The same schema as the read schema's enum, which the document then refers to.
        schema: dict[str, Any] = TypeAdapter(value_type).json_schema()
        return schema
    if issubclass(value_type, int) and value_type is not bool:
        low, high = spec.bounds.get("ge", -_UNBOUNDED), spec.bounds.get("le", _UNBOUNDED)
        return {"type": "integer", "minimum": low, "maximum": high}
    text = f"[^,\\x00]{{0,{limit}}}"
    if issubclass(value_type, str):
        return {"type": "string", "maxLength": limit, "pattern": f"^{text}$"}
    return {"type": "string", "pattern": f"^{scalar_value(value_type, spec.bounds, text)}$"}


def _joined(longest: int) -> AfterValidator:
    """The values of a list filter as the one comma-separated text the query language reads,
    whether they came in one parameter (``a,b``) or in a repeated one (``x=a&x=b``)."""

    def join(values: list[str] | None) -> str | None:
        if values is None:
            return None
        text = ",".join(values)
        if len(text) > longest:
            raise ValueError(f"the values hold at most {longest} characters")
        return text

    return AfterValidator(join)


def filter_field(spec: FilterSpec) -> tuple[Any, Any]:
    """The query-model field of one filter: its type and bounds, named by its alias.

    A list filter (``in``, ``not_in``, ``between``) is documented as an array of the column's
    values, written ``a,b,c`` (form style, not exploded), and also taken as a repeated
    parameter, which is what generated clients that ignore ``explode`` send. A second spelling
    of a filter (``name__eq`` beside ``name``) is taken but left out of the document.
    """
    description = f"{spec.field} {_DESCRIPTIONS[spec.op]}"
    if spec.op == "eq" and spec.alias == spec.field:
        description += f" (also spelt `{spec.field}__eq`)"
    annotation: Any
    if spec.op in LIST_OPS:
        limit = int(spec.bounds.get("max_length", DEFAULT_MAX_TEXT))
        longest = (limit + 1) * MAX_IN_VALUES
        most = 2 if spec.op == "between" else MAX_IN_VALUES
        array: dict[str, Any] = {
            "type": "array",
            "items": _item_schema(spec, limit),
            "maxItems": most,
        }
        if spec.op == "between":
            array["minItems"] = 2
        description += (
            f", at most {most}: `a,b`, or the parameter repeated"
            if spec.op != "between"
            else ": `low,high`, or the parameter repeated"
        )
        annotation = Annotated[
            list[str] | None, _joined(longest), WithJsonSchema(array), CommaSeparated()
        ]
        field = Field(None, alias=spec.alias, description=description)
    elif spec.op == "isnull":
        annotation, field = bool | None, Field(None, alias=spec.alias, description=description)
    else:
        bounds = dict(spec.bounds)
        if spec.value_type is not str:
            bounds.pop("max_length", None)
        elif issubclass(spec.value_type, str):
            bounds["pattern"] = NO_NUL
        annotation = spec.value_type | None
        field = Field(None, alias=spec.alias, description=description, **bounds)
    if not spec.documented:
        annotation = Annotated[annotation, Undocumented()]
    return annotation, field


_GROUP_HELP = {
    "or": "Rows that meet any of these conditions",
    "and": "Rows that meet all of these conditions",
    "not": "Rows that do not meet these conditions (all of them together)",
}


def sort_and_fields(res: Resource) -> dict[str, Any]:
    """The query-model fields ``sort`` and ``fields`` of the list (and of the export)."""
    spec = res.listing
    sort_help = ", ".join(spec.sort_keys)
    return {
        "sort": (
            _string(spec.sort_pattern, 500),
            Field(
                None,
                max_length=500,
                description=(
                    f"Comma-separated fields, `-` for descending: {sort_help}; empty for "
                    "the default order. A field named again adds nothing."
                ),
            ),
        ),
        "fields": (
            _string(spec.fields_pattern, 2000),
            Field(
                None,
                max_length=2000,
                description=(
                    "Comma-separated fields to return; each item then holds only these "
                    f"({', '.join(spec.read_fields)})."
                ),
            ),
        ),
    }


def _query_fields(res: Resource) -> dict[str, Any]:
    """The fields of the one model of every query parameter of the list route: validated in
    one pass, and documented as separate parameters (see `QueryModel`)."""
    offset, page, limit, count, cursor = _paging_fields(
        res.max_offset, res.max_limit, res.default_limit, res.listing.count
    )
    fields: dict[str, Any] = {
        "offset": offset,
        "page": page,
        "limit": limit,
        **sort_and_fields(res),
        "count": count,
        "cursor": cursor,
    }
    fields.update(filter_fields(res))
    return fields


@functools.lru_cache(maxsize=256)
def _paging_fields(
    max_offset: int, max_limit: int, default_limit: int, count: CountMode
) -> tuple[Any, ...]:
    """The query-model fields that place a page (``offset``, ``page``, ``limit``, ``count``,
    ``cursor``), one set for every list route of the same bounds."""
    return (
        (
            Annotated[
                int | None,
                WithJsonSchema({"type": "integer", "minimum": 0, "maximum": max_offset}),
            ],
            Field(
                None,
                ge=0,
                description=(
                    f"Rows to skip (default 0, at most {max_offset}); with a `cursor`, "
                    "rows to skip after the cursor's position."
                ),
            ),
        ),
        (
            int | None,
            Field(
                None,
                ge=1,
                # Any limit then keeps (page - 1) * limit within max_offset.
                le=max_offset // max_limit + 1,
                description=(
                    "Page number, from 1: the page starts (page - 1) × limit rows further on; "
                    "beside `offset` or a cursor it adds to them. The answer then holds `page`, "
                    "and `pages` when counted."
                ),
            ),
        ),
        (
            int,
            Field(
                default_limit,
                ge=1,
                le=max_limit,
                description=f"Page size, 1 to {max_limit}.",
            ),
        ),
        (
            CountMode | None,
            Field(None, description=f"How `total` is counted (default {count})."),
        ),
        (
            str | None,
            Field(
                None,
                max_length=MAX_CURSOR_LENGTH,
                description=(
                    "A page's `next_cursor`, to get the page after it (send the same `sort`); "
                    "404 when it names no page of this list."
                ),
            ),
        ),
    )


def filter_fields(res: Resource) -> dict[str, Any]:
    """The query-model fields that pick rows: search, soft-deleted rows, the filters and the
    filter groups. The list route, the aggregates and the export take the same ones."""
    spec = res.listing
    fields: dict[str, Any] = {}
    if spec.search.columns:
        searched = ", ".join(spec.search.names)
        fields["q"] = (
            str | None,
            Field(
                None,
                max_length=DEFAULT_MAX_TEXT,
                pattern=NO_NUL,
                description=f"Text to find in {searched}, ignoring case.",
            ),
        )
    if res.soft is not None and res.expose_deleted:
        fields["deleted"] = (
            DeletedMode | None,
            Field(
                None,
                description="Soft-deleted rows: `exclude` (default), `include` or `only`.",
            ),
        )
    for i, filter_spec in enumerate(spec.filters):
        fields[f"f{i}"] = filter_field(filter_spec)
    if spec.grammar is not None:
        allowed = ", ".join(s.alias for s in spec.filters)
        for kind in GROUP_PARAMS:
            fields[kind] = (
                _string(spec.grammar.pattern, GROUP_MAX_LENGTH),
                Field(
                    None,
                    max_length=GROUP_MAX_LENGTH,
                    description=(
                        f"{_GROUP_HELP[kind]}, in parentheses and separated by commas. They are "
                        "written as filters, `field__op=value`, or as nested groups `or(...)`, "
                        "`and(...)`, `not(...)` (two levels deep); lists "
                        'in parentheses, `team_id__in=(1,2)`; text holding `,()"` '
                        f"double-quoted. Filters: {allowed}."
                    ),
                ),
            )
    return fields


def filter_conditions(
    res: Resource, query: dict[str, Any], seen: Visibility
) -> tuple[list[Clause], list[str]]:
    """The conditions of the filters a request sets (``query``: validated ``f0``, ``f1``...)
    and the to-one paths they join; the list and the bulk writes read them alike."""
    spec = res.listing
    where: list[Clause] = []
    joins: list[str] = []
    for i, filter_spec in enumerate(spec.filters):
        value = query[f"f{i}"]
        if value is not None:
            where.append(spec.filter_clause(filter_spec, value, seen))
            joins.extend(filter_spec.joins)
    return where, joins


def list_where(
    res: Resource, query: dict[str, Any], kw: dict[str, Any]
) -> tuple[list[Clause], list[str], Visibility]:
    """The conditions of a list request and the to-one paths they join, with what the request
    may see: the filters, the groups, the custom filters, the scope, the tenancy, the parent,
    the soft-delete rule and the search. The one WHERE of the list, its count, the aggregates
    and the export (``query``: the validated fields of `filter_fields`)."""
    spec = res.listing
    seen = seen_by(res, kw)
    where, joins = filter_conditions(res, query, seen)
    if spec.grammar is not None:
        for kind in GROUP_PARAMS:
            if query[kind] is not None:
                where.append(spec.group_clause(kind, query[kind], joins, seen))
    for i in range(len(res.filters)):
        custom = kw[f"custom_{i}"]
        if custom is not None:
            where.append(custom)
    where += scope_of(res, kw)
    where += deleted_where(res, query.get("deleted"))
    text = query.get("q")
    if text:
        where.append(spec.search_clause(text))
        joins.extend(spec.search.joins)
    return where, joins, seen


def custom_filter_params(res: Resource) -> list[Any]:
    """The parameters of the router's own filter dependencies (``filters=``), which
    `list_where` reads."""
    return [param(f"custom_{i}", Annotated[Any, Depends(f)]) for i, f in enumerate(res.filters)]


async def _count(
    session: AsyncSession,
    res: Resource,
    mode: CountMode,
    where: Sequence[Clause],
    joins: Sequence[str],
    seen: Visibility,
) -> int | None:
    if mode == "none":
        return None
    table = res.info.table
    if (
        mode == "estimated"
        and session.get_bind().dialect.name == "postgresql"
        and (res.scoped_estimates or not restricted(res))
    ):
        base = res.queries.joins.apply(select(literal(1)).select_from(table), joins, seen)
        explain = Explain(base.where(*where))
        plan = (await execute(session, explain)).scalar_one()
        if isinstance(plan, str):
            plan = json.loads(plan)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        if estimate >= res.listing.estimate_threshold:
            return estimate
        # Small estimates are the least reliable (a fresh table has no statistics) and an
        # exact count of so few rows is cheap, as PostgREST does.
    statement, params = res.queries.count(where, joins, seen)
    result: int = (await execute(session, statement, params=params)).scalar_one()
    return result


def restricted(res: Resource) -> bool:
    """Whether a scope or a tenancy restricts the router's rows: the planner's estimate of
    them is then an estimate over every tenant's rows, so the count is exact unless the
    router opts in (``scoped_estimates``)."""
    return res.scope is not None or res.tenant_key is not None


DeletedMode = Literal["exclude", "include", "only"]


def deleted_where(res: Resource, mode: DeletedMode | None) -> list[Clause]:
    """The soft-delete condition of a list or bulk write: live rows unless asked otherwise."""
    soft = res.soft
    if soft is None or mode == "include":
        return []
    return [soft.deleted() if mode == "only" else soft.alive()]


async def _hidden_values(
    res: Resource,
    session: AsyncSession,
    sort: Sort,
    values: list[Any],
    where: Sequence[Clause],
    joins: Sequence[str],
    seen: Visibility,
) -> list[Any]:
    """The sort values a cursor leaves out (the read schema hides them), read from the row the
    cursor names by its key, which must still be a row of this list (else 404)."""
    info = res.info
    names = [key.name for key in sort.keys]
    ident = [values[names.index(part.key)] for part in info.key]
    hidden = sort.hidden
    statement = select(*[sort.keys[i].column for i in hidden]).select_from(info.table)
    needed = {*joins, *[j for i in hidden for j in sort.keys[i].joins]}
    statement = res.queries.joins.apply(statement, sorted(needed), seen)
    by_key = res.queries.by_key(ident[0] if len(ident) == 1 else tuple(ident))
    row = (await execute(session, statement.where(*where, *by_key))).first()
    if row is None:
        raise cursor_not_found("its row is no longer in the list")
    filled = list(values)
    for i, value in zip(hidden, row, strict=True):
        filled[i] = value
    return filled


def make_list(res: Resource, name: str) -> Endpoint:
    """GET {prefix}: a `Page` of items under filters, sort, search, fields, count and cursor."""
    spec: ListSpec = res.listing
    queries = res.queries

    query_model = QueryModel(f"{name}_query", _query_fields(res), shares=res.serializer.schema)

    async def endpoint(**kw: Any) -> Response:
        request: Request = kw["request"]
        session: AsyncSession = kw["session"]
        spec.check_unknown(request.query_params.multi_items())
        query = query_model.parse(request).__dict__
        limit: int = query["limit"]
        cursor: str | None = query["cursor"]
        offset: int | None = query["offset"]
        page: int | None = query["page"]
        if offset is not None and offset > res.max_offset:
            message = f"offset may be at most {res.max_offset}; to go deeper, follow next_cursor"
            raise query_error("offset", message, offset)
        # Offset, page and cursor add up: the page starts offset + (page - 1) * limit rows after
        # the cursor's position (or the start), so no combination the document allows is refused.
        start = (offset or 0) + (0 if page is None else (page - 1) * limit)
        sort: Sort = spec.parse_sort(query["sort"])
        fields = spec.parse_fields(query["fields"])
        mode: CountMode = query["count"] or spec.count
        where, joins, seen = list_where(res, query, kw)
        page_where = list(where)
        if cursor is not None:
            values = spec.decode_cursor(cursor, sort)
            if sort.hidden:
                values = await _hidden_values(res, session, sort, values, where, joins, seen)
            page_where.append(sort.after(values))
        total = await _count(session, res, mode, where, joins, seen)
        rows: Sequence[Any] = []
        if total is None or cursor is not None or start < total:
            options = embed_options(res, kw)
            statement, params = queries.page_select(
                fields, sort, page_where, start, limit, joins, seen, options
            )
            rows = (await execute(session, statement, params=params)).all()
        if not rows:
            await check_parent(res, session, kw)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]._mapping
            next_cursor = spec.encode_cursor(sort, [last[f"_k{i}"] for i in range(len(sort.keys))])
        page_offset = None if cursor is not None else start
        numbers = None if page is None else (page, page_count(total, limit))
        if queries.page_is_orm(fields):
            objects = [row[0] for row in rows]
            body = await session.run_sync(
                lambda _s: res.serializer.many(
                    objects, total, limit, page_offset, next_cursor, fields, numbers
                )
            )
        else:
            body = res.serializer.many(
                rows, total, limit, page_offset, next_cursor, fields, numbers
            )
        return Response(body, media_type=JSON)

    params = [param("request", Request), *custom_filter_params(res), *context_params(res)]
    return with_query(with_signature(endpoint, params, name), query_model)
