"""``GET {prefix}/export``: every row a list request picks, in the list's order, streamed as
newline-delimited JSON or CSV in batches read by keyset (each batch starts after the last row
of the one before), so memory stays flat whatever the number of rows.

It is a route of its own rather than other media types of the list: the list answers pages
(bounded by ``limit``, with counts and cursors) that a generated client reads as one typed
JSON object, while an export is unbounded text a browser downloads; the route can have
dependencies of its own (exports are often for some users only), and the document gives each
route the one kind of answer it has.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from fastapi import Request, Response
from pydantic import Field, TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import StreamingResponse

from .._guard._tenancy import apply_setting
from .._query import query_error
from ._execute import check_parent, embed_options, execute
from ._list import custom_filter_params, filter_fields, list_where, sort_and_fields
from ._params import context_params, param, with_signature
from ._query_params import QueryModel, with_query
from ._resource import Endpoint, Resource
from ._transaction import request_session

DEFAULT_MAX_EXPORT_ROWS = 100_000
"""The most rows an export writes unless the router says otherwise."""
BATCH = 1000
"""Rows read per statement."""
NDJSON = "application/x-ndjson"
CSV = "text/csv; charset=utf-8"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportResponse(StreamingResponse):
    """The streamed body of an export (its media type is set per request)."""

    media_type = None


def export_responses(schema_name: str) -> dict[int | str, Any]:
    """The documented 200 of the export: one media type per format."""
    lines = (
        f"One JSON object per line: a {schema_name}, or the fields asked for. A body that "
        "ends without its final newline and the end of the chunked body is incomplete."
    )
    table = (
        "RFC 4180 CSV: a header row of the fields, then one row per item; nested values are "
        "JSON, nulls are empty, and text that a spreadsheet would read as a formula starts "
        "with `'`."
    )
    return {
        200: {
            "description": "Every matching row, in the list's order",
            "content": {
                NDJSON: {"schema": {"type": "string", "description": lines}},
                "text/csv": {"schema": {"type": "string", "description": table}},
            },
        }
    }


def _query_fields(res: Resource) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "format": (
            Literal["ndjson", "csv"],
            Field(
                "ndjson",
                description=f"`ndjson` ({NDJSON}, the default) or `csv` (text/csv).",
            ),
        ),
        **sort_and_fields(res),
        **filter_fields(res),
    }
    return fields


def _cell(value: Any, formulas: bool) -> Any:
    """One CSV cell from a JSON value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if not formulas and value.startswith(_FORMULA_STARTS):
            return "'" + value
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


class _Writer:
    """Turns validated items into the bytes of one format."""

    def __init__(self, fmt: str, names: Sequence[str], adapter: TypeAdapter[Any], formulas: bool):
        self.csv = fmt == "csv"
        self.names = list(names)
        self.adapter = adapter
        self.formulas = formulas

    def header(self) -> bytes:
        if not self.csv:
            return b""
        out = io.StringIO()
        csv.writer(out).writerow(self.names)
        return out.getvalue().encode()

    def rows(self, items: list[Any]) -> bytes:
        if not self.csv:
            dump = self.adapter.dump_json
            return b"".join(dump(item) + b"\n" for item in items)
        out = io.StringIO()
        writer = csv.writer(out)
        formulas = self.formulas
        for values in self.adapter.dump_python(items, mode="json"):
            writer.writerow([_cell(values.get(n), formulas) for n in self.names])
        return out.getvalue().encode()


def _validate(_session: Any, adapter: TypeAdapter[Any], objects: list[Any]) -> Any:
    """ORM objects as items, in the session's thread of control (embedded rows may load)."""
    return adapter.validate_python(objects, from_attributes=True)


def make_export(res: Resource, name: str, max_rows: int, formulas: bool) -> Endpoint:
    """GET {prefix}/export: every row the list's filters pick, streamed."""
    query_model = QueryModel(f"{name}_query", _query_fields(res))
    spec = res.listing
    queries = res.queries
    read_fields = tuple(spec.read_fields)

    async def endpoint(**kw: Any) -> Response:
        request: Request = kw["request"]
        session: AsyncSession = kw["session"]
        query_model.refuse_unknown(request, res.ignored_query)
        query = query_model.parse(request).__dict__
        sort = spec.parse_sort(query["sort"])
        fields = spec.parse_fields(query["fields"])
        where, joins, seen = list_where(res, query, kw)
        await check_parent(res, session, kw)
        beyond = res.queries.joins.apply(
            select(queries.pk).select_from(res.info.table), joins, seen
        )
        beyond = beyond.where(*where).limit(1).offset(max_rows)
        if (await execute(session, beyond)).first() is not None:
            raise query_error(
                "filters",
                f"more than {max_rows} rows match; an export writes at most {max_rows} "
                "(narrow the filters, or export in parts)",
            )
        names = fields or read_fields
        item_adapter = res.serializer.item_adapter(fields)
        items_adapter = res.serializer.items_adapter(fields)
        fmt: str = query["format"]
        writer = _Writer(fmt, names, item_adapter if fmt == "ndjson" else items_adapter, formulas)
        options = embed_options(res, kw)
        tenant = kw.get("tenant")

        async def body() -> AsyncIterator[bytes]:
            async with request_session(res.session, request, session) as stream:
                setting = None if res.tenancy is None else res.tenancy.postgres_setting
                if setting is not None and tenant is not None:
                    await apply_setting(stream, setting, str(tenant))
                yield writer.header()
                values: list[Any] | None = None
                sent = 0
                while True:
                    page_where = list(where) if values is None else [*where, sort.after(values)]
                    statement, params = queries.page_select(
                        fields, sort, page_where, 0, BATCH, joins, seen, options
                    )
                    rows = (await execute(stream, statement, params=params)).all()
                    batch = rows[:BATCH]
                    if sent + len(batch) > max_rows:
                        raise RuntimeError(f"the export grew past {max_rows} rows while written")
                    if batch:
                        if queries.page_is_orm(fields):
                            objects = [row[0] for row in batch]
                            validated = await stream.run_sync(_validate, items_adapter, objects)
                        else:
                            validated = items_adapter.validate_python(batch, from_attributes=True)
                        yield writer.rows(validated)
                        sent += len(batch)
                    if len(rows) <= BATCH:
                        return
                    last = batch[-1]._mapping
                    values = [last[f"_k{i}"] for i in range(len(sort.keys))]

        media = CSV if fmt == "csv" else NDJSON
        headers = {"Content-Disposition": f'attachment; filename="{res.info.table.name}.{fmt}"'}
        if fmt == "ndjson":
            headers = {}
        return ExportResponse(body(), media_type=media, headers=headers)

    params = [param("request", Request), *custom_filter_params(res), *context_params(res)]
    return with_query(with_signature(endpoint, params, name), query_model)
