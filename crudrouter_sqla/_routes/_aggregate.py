"""``GET {prefix}/aggregate``: the rows a list request picks, grouped and summarised in one
statement under the same WHERE as the list (`list_where`)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Request, Response
from pydantic import Field, WithJsonSchema, create_model

from .._query import AggregateSpec, query_error
from .._query._patterns import alternation
from ._execute import check_parent, execute
from ._list import custom_filter_params, filter_fields, list_where
from ._params import context_params, param, with_signature
from ._query_params import CommaSeparated, QueryModel, with_query
from ._resource import JSON, Endpoint, Resource

_SORT_LENGTH = 500


def _names(values: list[str] | None) -> list[str] | None:
    """The comma-separated names of one parameter, or of the parameter repeated."""
    if values is None:
        return None
    return [name for value in values for name in value.split(",") if name]


def _name_list(names: list[str], description: str) -> tuple[Any, Any]:
    """A query-model field holding some of ``names``: an array of them (form style, not
    exploded), at most each once."""
    array = {
        "type": "array",
        "items": {"type": "string", "enum": names},
        "maxItems": len(names),
        "uniqueItems": True,
    }
    annotation = Annotated[list[str] | None, WithJsonSchema(array), CommaSeparated()]
    return annotation, Field(None, max_length=len(names) * 4, description=description)


def _query_fields(res: Resource, spec: AggregateSpec) -> dict[str, Any]:
    groups, metrics = list(spec.groups), list(spec.metrics)
    fields: dict[str, Any] = {}
    if groups:
        fields["group_by"] = _name_list(
            groups, f"Fields to group by, comma-separated: {', '.join(groups)}."
        )
    fields["aggregate"] = _name_list(
        metrics,
        "Aggregates to compute, comma-separated (default `count`, the rows of each group): "
        f"{', '.join(metrics)}.",
    )
    sortable = alternation([*groups, *metrics])
    pattern = f"^(?:-?{sortable}(?:,-?{sortable})*)?$"
    fields["sort"] = (
        Annotated[
            str | None,
            WithJsonSchema({"type": "string", "pattern": pattern, "maxLength": _SORT_LENGTH}),
        ],
        Field(
            None,
            max_length=_SORT_LENGTH,
            description=(
                "Comma-separated fields and aggregates, `-` for descending (nulls last going "
                "up, first going down); the groups in order by default, and they break ties. "
                "An aggregate not asked for still orders the groups; a field not grouped by "
                "orders them by its smallest value (largest going down)."
            ),
        ),
    )
    fields["limit"] = (
        int,
        Field(
            res.default_limit,
            ge=1,
            le=res.max_limit,
            description=f"Groups per page, 1 to {res.max_limit}.",
        ),
    )
    fields["offset"] = (
        int,
        Field(0, ge=0, le=res.max_offset, description=f"Groups to skip, at most {res.max_offset}."),
    )
    fields.update(filter_fields(res))
    return fields


def aggregate_models(spec: AggregateSpec, schema_name: Any) -> tuple[Any, Any, Any, Any]:
    """The documented answer: ``{Item}Aggregates``, a page of groups, each with the values of
    the fields grouped by (``group``) and the aggregates asked for (``values``); only those
    appear in each."""
    grouped: dict[str, Any] = {
        name: (field.value_type | None, Field(None)) for name, field in spec.groups.items()
    }
    computed: dict[str, Any] = {
        name: (metric.value_type | None, Field(None)) for name, metric in spec.metrics.items()
    }
    group: Any = create_model(
        schema_name("AggregateGroup"),
        __doc__="The values of the fields the request groups by (only those appear).",
        **grouped,
    )
    values: Any = create_model(
        schema_name("AggregateValues"),
        __doc__="The aggregates the request asks for (only those appear).",
        **computed,
    )
    item: Any = create_model(
        schema_name("AggregateItem"),
        __doc__="One group.",
        group=(group, Field(description="The group's values of the fields grouped by.")),
        values=(values, Field(description="The aggregates of the group's rows.")),
    )
    page: Any = create_model(
        schema_name("Aggregates"),
        __doc__="A page of groups.",
        items=(list[item], ...),
        limit=(int, Field(description="The most groups a page holds.")),
        offset=(int, Field(description="How many groups come before this page.")),
        next_offset=(
            int | None,
            Field(description="Pass as `offset` to get the next page; null on the last page."),
        ),
    )
    return page, item, group, values


def _chosen(raw: list[str] | None, known: dict[str, Any], name: str) -> list[str]:
    names = _names(raw) or []
    seen: set[str] = set()
    for value in names:
        if value not in known:
            raise query_error(name, f"unknown: {value!r}; allowed: {', '.join(known)}", value)
        if value in seen:
            raise query_error(name, f"{value!r} is named twice; name it once", value)
        seen.add(value)
    return names


_SORT_ITEM = re.compile(r"(-?)(.+)")


def make_aggregate(res: Resource, name: str, spec: AggregateSpec, models: Any) -> Endpoint:
    """GET {prefix}/aggregate: a page of groups of the rows the list's filters pick."""
    query_model = QueryModel(f"{name}_query", _query_fields(res, spec))
    page, item_model, group_model, values_model = models

    async def endpoint(**kw: Any) -> Response:
        request: Request = kw["request"]
        query_model.refuse_unknown(request, res.ignored_query)
        query = query_model.parse(request).__dict__
        groups = _chosen(query.get("group_by"), spec.groups, "group_by")
        metrics = _chosen(query["aggregate"], spec.metrics, "aggregate") or ["count"]
        order: list[tuple[str, bool]] = []
        for part in query["sort"].split(",") if query["sort"] else []:
            matched = _SORT_ITEM.fullmatch(part)
            if matched is None:
                raise query_error("sort", "an empty field; name each once", query["sort"])
            key = matched.group(2)
            if key not in spec.groups and key not in spec.metrics:
                raise query_error("sort", f"unknown field {key!r}", query["sort"])
            if any(key == known for known, _ in order):
                continue
            order.append((key, bool(matched.group(1))))
        where, joins, seen = list_where(res, query, kw)
        statement = spec.statement(
            groups, metrics, order, where, joins, res.queries.joins, res.info.table, seen
        )
        limit: int = query["limit"]
        offset: int = query["offset"]
        statement = statement.limit(limit + 1).offset(offset)
        rows = (await execute(kw["session"], statement)).all()
        if not rows or not groups:
            # Without groups there is always one row, even for an unknown parent.
            await check_parent(res, kw["session"], kw)
        next_offset = offset + limit if len(rows) > limit else None
        items = [
            item_model.model_construct(
                group=group_model.model_validate({g: row[i] for i, g in enumerate(groups)}),
                values=values_model.model_validate(
                    {m: row[len(groups) + i] for i, m in enumerate(metrics)}
                ),
            )
            for row in rows[:limit]
        ]
        answer = page.model_construct(
            items=items, limit=limit, offset=offset, next_offset=next_offset
        )
        return Response(answer.model_dump_json(exclude_unset=True), media_type=JSON)

    params = [param("request", Request), *custom_filter_params(res), *context_params(res)]
    return with_query(with_signature(endpoint, params, name), query_model)
