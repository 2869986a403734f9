"""The generated list route: one page of rows under the query language of `ListSpec`."""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from sqlalchemy import ClauseElement, Executable, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from ._cursor import MAX_CURSOR_LENGTH
from ._endpoints import (
    JSON,
    Endpoint,
    Resource,
    _context_params,
    _execute,
    _param,
    _with_signature,
    scope_of,
)
from ._filters import DEFAULT_MAX_TEXT, MAX_IN_VALUES, Clause, FilterSpec
from ._listing import CountMode, ListSpec, Sort, query_error

_DESCRIPTIONS = {
    "eq": "equals",
    "ne": "differs from (or is null)",
    "gt": "greater than",
    "gte": "greater than or equal to",
    "lt": "less than",
    "lte": "less than or equal to",
    "in": "is one of these comma-separated values",
    "not_in": "is none of these comma-separated values",
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


def _filter_param(spec: FilterSpec, index: int) -> inspect.Parameter:
    description = f"{spec.field} {_DESCRIPTIONS[spec.op]}"
    if spec.op in ("in", "not_in"):
        limit = int(spec.bounds.get("max_length", DEFAULT_MAX_TEXT))
        query = Query(
            alias=spec.alias, description=description, max_length=(limit + 1) * MAX_IN_VALUES
        )
        return _param(f"f{index}", Annotated[str | None, query], None)
    if spec.op == "isnull":
        return _param(f"f{index}", Annotated[bool | None, Query(alias=spec.alias)], None)
    bounds = dict(spec.bounds)
    if spec.value_type is not str:
        bounds.pop("max_length", None)
    query = Query(alias=spec.alias, description=description, **bounds)
    return _param(f"f{index}", Annotated[spec.value_type | None, query], None)


async def _count(
    session: AsyncSession, res: Resource, mode: CountMode, where: Sequence[Clause]
) -> int | None:
    if mode == "none":
        return None
    table = res.info.table
    if mode == "estimated" and session.get_bind().dialect.name == "postgresql":
        explain = Explain(select(literal(1)).select_from(table).where(*where))
        plan = (await _execute(session, explain)).scalar_one()
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])
    result: int = (await _execute(session, res.queries.count(where))).scalar_one()
    return result


def make_list(res: Resource, name: str) -> Endpoint:
    """GET {prefix}: a `Page` of items under filters, sort, search, fields, count and cursor."""
    spec: ListSpec = res.listing
    filter_names = [(f"f{i}", s) for i, s in enumerate(spec.filters)]
    custom_names = [f"custom_{i}" for i in range(len(res.filters))]
    queries = res.queries

    async def endpoint(**kw: Any) -> Response:
        request: Request = kw["request"]
        session: AsyncSession = kw["session"]
        spec.check_unknown(list(request.query_params.keys()))
        limit: int = kw["limit"]
        cursor: str | None = kw["cursor"]
        offset: int | None = kw["offset"]
        if cursor is not None and offset is not None:
            raise query_error("offset", "use either offset or cursor, not both", offset)
        if offset is not None and offset > res.max_offset:
            raise query_error(
                "offset",
                f"offset may be at most {res.max_offset}; to go deeper, follow next_cursor "
                "(cursor paging)",
                offset,
            )
        sort: Sort = spec.parse_sort(kw["sort"])
        fields = spec.parse_fields(kw["fields"])
        mode: CountMode = kw["count"] or spec.count
        if kw["count"] == "estimated" and session.get_bind().dialect.name != "postgresql":
            raise query_error("count", "estimated counts need PostgreSQL; use exact or none")
        where: list[Clause] = [
            spec.filter_clause(s, kw[n]) for n, s in filter_names if kw[n] is not None
        ]
        where += [kw[n] for n in custom_names if kw[n] is not None]
        where += scope_of(kw)
        text = kw.get("q")
        if text:
            where.append(spec.search_clause(text))
        page_where = list(where)
        if cursor is not None:
            page_where.append(spec.decode_cursor(cursor, sort))
        total = await _count(session, res, mode, where)
        rows: Sequence[Any] = []
        start = offset or 0
        if total is None or cursor is not None or start < total:
            statement, params = queries.page_select(fields, sort, page_where, start, limit)
            rows = (await _execute(session, statement, params=params)).all()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]._mapping
            next_cursor = spec.encode_cursor(sort, [last[f"_k{i}"] for i in range(len(sort.keys))])
        page_offset = None if cursor is not None else start
        if queries.uses_orm:
            objects = [row[0] for row in rows]
            body = await session.run_sync(
                lambda _s: res.serializer.many(
                    objects, total, limit, page_offset, next_cursor, fields
                )
            )
        else:
            body = res.serializer.many(rows, total, limit, page_offset, next_cursor, fields)
        return Response(body, media_type=JSON)

    sort_help = ", ".join(spec.sort_columns)
    params = [
        _param("request", Request),
        _param(
            "offset",
            Annotated[
                int | None,
                Query(
                    ge=0,
                    description=f"Rows to skip (default 0, at most {res.max_offset}).",
                ),
            ],
            None,
        ),
        _param(
            "limit",
            Annotated[
                int,
                Query(ge=1, le=res.max_limit, description=f"Page size, 1 to {res.max_limit}."),
            ],
            res.default_limit,
        ),
        _param(
            "sort",
            Annotated[
                str | None,
                Query(
                    max_length=500,
                    description=f"Comma-separated fields, `-` for descending: {sort_help}.",
                ),
            ],
            None,
        ),
        _param(
            "fields",
            Annotated[
                str | None,
                Query(max_length=2000, description="Comma-separated fields to return."),
            ],
            None,
        ),
        _param(
            "count",
            Annotated[
                CountMode | None,
                Query(description=f"How `total` is counted (default {spec.count})."),
            ],
            None,
        ),
        _param(
            "cursor",
            Annotated[
                str | None,
                Query(
                    max_length=MAX_CURSOR_LENGTH,
                    description="A page's `next_cursor`, to get the page after it.",
                ),
            ],
            None,
        ),
        *[_filter_param(s, i) for i, s in enumerate(spec.filters)],
        *[
            _param(n, Annotated[Any, Depends(f)])
            for n, f in zip(custom_names, res.filters, strict=True)
        ],
        *_context_params(res),
    ]
    if spec.search_columns:
        fields_help = ", ".join(c.key for c in spec.search_columns)
        q = Query(
            max_length=DEFAULT_MAX_TEXT,
            description=f"Text to find in {fields_help}, ignoring case.",
        )
        params.insert(4, _param("q", Annotated[str | None, q], None))
    return _with_signature(endpoint, params, name)
