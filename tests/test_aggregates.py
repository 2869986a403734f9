"""``GET {prefix}/aggregate``: every function against the same numbers computed in Python from
the seeded rows, groups across a to-one path, every filter kind composed with aggregates, and
another tenant's (or a soft-deleted, or an out-of-scope) row never counted; on SQLite,
PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime
import decimal
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import Header, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import DateTime, ForeignKey, Numeric, String, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crudrouter_sqla import Aggregates, ConfigurationError, CRUDRouter, Tenancy
from crudrouter_sqla.core import Database
from tests.apps import app_with
from tests.support.databases import database_with


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "agg_projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(30))


class Task(Base):
    __tablename__ = "agg_tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(40))
    estimate: Mapped[int | None]
    cost: Mapped[decimal.Decimal] = mapped_column(Numeric(12, 2))
    weight: Mapped[float]
    due: Mapped[datetime.date | None]
    project_id: Mapped[int | None] = mapped_column(ForeignKey("agg_projects.id"))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    project: Mapped[Project | None] = relationship()


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    status: str
    title: str
    estimate: int | None
    cost: decimal.Decimal
    weight: float
    due: datetime.date | None
    project_id: int | None


AGGREGATES = Aggregates(
    group_by=["status", "project.name", "due"],
    functions={
        "estimate": ["sum", "avg", "min", "max", "count_distinct"],
        "cost": ["sum", "avg", "max"],
        "weight": ["sum", "avg", "min"],
        "due": ["min", "max"],
        "title": ["min", "max"],
        "project.name": ["count_distinct", "max"],
    },
)
STATUSES = ("open", "doing", "done")


def tenant_of(x_org: int = Header(1)) -> int:
    return x_org


def title_prefix(starts: str | None = Query(None, max_length=10)) -> Any:
    return None if starts is None else Task.title.startswith(starts)


def routers(db: Database, **options: Any) -> list[CRUDRouter]:
    tenancy = Tenancy("org_id", current=tenant_of)
    return [
        CRUDRouter(Project, ProjectRead, session=db.session, tenancy=tenancy),
        CRUDRouter(
            Task,
            TaskRead,
            session=db.session,
            tenancy=tenancy,
            soft_delete="deleted_at",
            filter_fields={
                "status": "*",
                "estimate": "*",
                "project.name": ["eq", "in"],
                "due": ["gte", "lte", "isnull"],
            },
            search_fields=["title"],
            filters=[title_prefix],
            aggregates=AGGREGATES,
            **options,
        ),
    ]


def seeded_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(7)
    projects = [
        {"id": i, "org_id": 1 if i <= 3 else 2, "name": f"p{i % 3}" if i <= 3 else "other"}
        for i in range(1, 6)
    ]
    tasks = []
    for i in range(1, 121):
        org = 1 if i <= 90 else 2
        tasks.append(
            {
                "id": i,
                "org_id": org,
                "status": rng.choice(STATUSES),
                "title": f"{rng.choice('abc')}-task {i:03d}",
                "estimate": None if i % 7 == 0 else rng.randint(0, 20),
                "cost": decimal.Decimal(rng.randint(0, 100000)) / 100,
                "weight": rng.randint(0, 400) / 8,
                "due": None if i % 5 == 0 else datetime.date(2026, 1, 1 + i % 28),
                # org 1 tasks point at org 1 projects, a few at org 2's project 4 (hidden).
                "project_id": None if i % 11 == 0 else (4 if i % 13 == 0 else 1 + i % 3),
                "deleted_at": (
                    datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC) if i % 17 == 0 else None
                ),
            }
        )
    return projects, tasks


PROJECTS, TASKS = seeded_rows()


@pytest.fixture
async def adb(db_url: str) -> AsyncIterator[Database]:
    async with database_with(db_url, Base.metadata) as database:
        async with database.open_session() as session:
            await session.execute(insert(Project), PROJECTS)
            await session.execute(insert(Task), TASKS)
            await session.commit()
        yield database


def visible(rows: list[dict[str, Any]], org: int = 1) -> list[dict[str, Any]]:
    return [r for r in rows if r["org_id"] == org and r["deleted_at"] is None]


def project_name(task: dict[str, Any], org: int = 1) -> str | None:
    """The project name the request may see: a project of another tenant joins as none."""
    for project in PROJECTS:
        if project["id"] == task["project_id"] and project["org_id"] == org:
            return str(project["name"])
    return None


def expected(rows: list[dict[str, Any]], field: str, function: str) -> Any:
    if field == "project.name":
        values = [project_name(r) for r in rows]
    else:
        values = [r[field] for r in rows]
    present = [v for v in values if v is not None]
    if function == "count_distinct":
        return len(set(present))
    if not present:
        return None
    if function == "sum":
        return sum(present)
    if function == "avg":
        return sum(present) / len(present)
    return min(present) if function == "min" else max(present)


def same(got: Any, want: Any, field: str, function: str) -> None:
    if want is None:
        assert got is None
    elif field == "cost" and function in ("sum", "avg", "max"):
        # Decimals are written as strings, and keep their precision.
        assert isinstance(got, str)
        assert decimal.Decimal(got) == pytest.approx(
            decimal.Decimal(want), abs=decimal.Decimal("0.005")
        )
    elif field == "due":
        assert got == want.isoformat()
    elif isinstance(want, float | int) and function in ("sum", "avg"):
        assert isinstance(got, float | int)
        assert got == pytest.approx(float(want), rel=1e-9)
    else:
        assert got == want


ALL = [name for name in ("count",)] + [
    f"{function}_{field}"
    for field, functions in AGGREGATES.functions.items()
    for function in functions
]


async def test_every_function_matches_python_over_the_visible_rows(adb, client_for):
    async with client_for(app_with(adb, *routers(adb))) as client:
        r = await client.get("/agg_tasks/aggregate", params={"aggregate": ",".join(ALL)})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["next_offset"] is None
        [item] = body["items"]
        assert item["group"] == {}
        rows = visible(TASKS)
        assert item["values"]["count"] == len(rows)
        for name in ALL[1:]:
            function, _, field = name.partition("_")
            if name.startswith("count_distinct_"):
                function, field = "count_distinct", name.removeprefix("count_distinct_")
            same(item["values"][name], expected(rows, field, function), field, function)


async def test_groups_across_a_to_one_path_count_like_python(adb, client_for):
    async with client_for(app_with(adb, *routers(adb))) as client:
        params = {
            "group_by": "status,project.name",
            "aggregate": "count,sum_estimate,max_due,avg_weight",
            "limit": "100",
        }
        r = await client.get("/agg_tasks/aggregate", params=params)
        assert r.status_code == 200, r.text
        groups: dict[tuple[Any, Any], list[dict[str, Any]]] = defaultdict(list)
        for row in visible(TASKS):
            groups[(row["status"], project_name(row))].append(row)
        items = r.json()["items"]
        assert len(items) == len(groups)
        got_keys = [(i["group"]["status"], i["group"]["project.name"]) for i in items]
        # Ordered by the groups, nulls last.
        assert got_keys == sorted(groups, key=lambda k: (k[0], k[1] is None, k[1] or ""))
        for item in items:
            rows = groups[(item["group"]["status"], item["group"]["project.name"])]
            assert item["values"]["count"] == len(rows)
            same(
                item["values"]["sum_estimate"], expected(rows, "estimate", "sum"), "estimate", "sum"
            )
            same(item["values"]["max_due"], expected(rows, "due", "max"), "due", "max")
            same(item["values"]["avg_weight"], expected(rows, "weight", "avg"), "weight", "avg")
            assert set(item["values"]) == {"count", "sum_estimate", "max_due", "avg_weight"}


async def test_a_sort_by_an_aggregate_not_asked_for_or_a_field_not_grouped_by(adb, client_for):
    async with client_for(app_with(adb, *routers(adb))) as client:
        by_status: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in visible(TASKS):
            by_status[row["status"]].append(row)
        for sort, key in (
            ("-sum_estimate", lambda rows: -expected(rows, "estimate", "sum")),
            ("due", lambda rows: expected(rows, "due", "min")),
            ("-due", lambda rows: [-d.toordinal() for d in [expected(rows, "due", "max")]]),
        ):
            r = await client.get(
                "/agg_tasks/aggregate", params={"group_by": "status", "sort": sort}
            )
            assert r.status_code == 200, r.text
            got = [i["group"]["status"] for i in r.json()["items"]]
            # The groups break ties.
            assert got == sorted(by_status, key=lambda s: (key(by_status[s]), s))
            assert all(set(i["values"]) == {"count"} for i in r.json()["items"])


async def test_sorting_and_paging_groups(adb, client_for):
    async with client_for(app_with(adb, *routers(adb))) as client:
        counts: dict[Any, int] = defaultdict(int)
        for row in visible(TASKS):
            counts[row["due"]] += 1
        want = sorted(
            counts.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or datetime.date.min)
        )
        seen: list[tuple[Any, int]] = []
        offset: int | None = 0
        while offset is not None:
            r = await client.get(
                "/agg_tasks/aggregate",
                params={"group_by": "due", "sort": "-count", "limit": "7", "offset": str(offset)},
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(body["items"]) <= 7
            seen += [(i["group"]["due"], i["values"]["count"]) for i in body["items"]]
            offset = body["next_offset"]
        assert [c for _, c in seen] == [c for _, c in want]
        assert sorted(str(d) for d, _ in seen) == sorted(
            "None" if d is None else d.isoformat() for d, _ in want
        )


FILTER_CASES: list[tuple[dict[str, str], Any]] = [
    ({"status": "open"}, lambda r: r["status"] == "open"),
    ({"status__in": "open,done"}, lambda r: r["status"] in ("open", "done")),
    ({"estimate__gte": "10"}, lambda r: r["estimate"] is not None and r["estimate"] >= 10),
    ({"estimate__isnull": "true"}, lambda r: r["estimate"] is None),
    ({"project.name": "p1"}, lambda r: project_name(r) == "p1"),
    (
        {"due__lte": "2026-01-10"},
        lambda r: r["due"] is not None and r["due"] <= datetime.date(2026, 1, 10),
    ),
    ({"q": "TASK 01"}, lambda r: "task 01" in r["title"]),
    ({"starts": "b-"}, lambda r: r["title"].startswith("b-")),
    (
        {"or": "(status=open,estimate__lt=3)"},
        lambda r: r["status"] == "open" or (r["estimate"] is not None and r["estimate"] < 3),
    ),
    ({"not": "(status=done)"}, lambda r: r["status"] != "done"),
    (
        {"and": "(status__ne=open,or(estimate__gt=15,due__isnull=true))", "starts": "a-"},
        lambda r: (
            r["status"] != "open"
            and ((r["estimate"] is not None and r["estimate"] > 15) or r["due"] is None)
            and r["title"].startswith("a-")
        ),
    ),
]


@pytest.mark.parametrize("case", range(len(FILTER_CASES)))
async def test_every_filter_kind_composes_with_aggregates(adb, client_for, case):
    params, keep = FILTER_CASES[case]
    async with client_for(app_with(adb, *routers(adb))) as client:
        r = await client.get(
            "/agg_tasks/aggregate",
            params={**params, "group_by": "status", "aggregate": "count,sum_cost"},
        )
        assert r.status_code == 200, r.text
        rows = [row for row in visible(TASKS) if keep(row)]
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            groups[row["status"]].append(row)
        got = {i["group"]["status"]: i["values"] for i in r.json()["items"]}
        assert set(got) == set(groups)
        for status, values in got.items():
            assert values["count"] == len(groups[status])
            same(values["sum_cost"], expected(groups[status], "cost", "sum"), "cost", "sum")
        # The list under the same filters holds the same rows.
        listed = await client.get("/agg_tasks", params={**params, "limit": "100"})
        assert listed.status_code == 200, listed.text
        assert listed.json()["total"] == len(rows)


async def test_another_tenants_rows_are_never_counted(adb, client_for):
    async with client_for(app_with(adb, *routers(adb))) as client:
        for org in (1, 2):
            r = await client.get(
                "/agg_tasks/aggregate",
                params={"group_by": "project.name", "aggregate": "count,sum_estimate"},
                headers={"x-org": str(org)},
            )
            assert r.status_code == 200, r.text
            rows = visible(TASKS, org)
            items = r.json()["items"]
            assert sum(i["values"]["count"] for i in items) == len(rows)
            names = {i["group"]["project.name"] for i in items}
            # Another tenant's project joins as no project: its name never shows.
            mine = {p["name"] for p in PROJECTS if p["org_id"] == org}
            assert names <= mine | {None}


async def test_soft_deleted_rows_count_only_when_asked_for(adb, client_for):
    async with client_for(app_with(adb, *routers(adb))) as client:
        mine = [r for r in TASKS if r["org_id"] == 1]
        for mode, want in (
            (None, [r for r in mine if r["deleted_at"] is None]),
            ("include", mine),
            ("only", [r for r in mine if r["deleted_at"] is not None]),
        ):
            params = {} if mode is None else {"deleted": mode}
            r = await client.get("/agg_tasks/aggregate", params=params)
            assert r.status_code == 200, r.text
            assert r.json()["items"][0]["values"]["count"] == len(want)


async def test_a_scope_bounds_the_groups(adb, client_for):
    def open_only() -> Any:
        return Task.status == "open"

    async with client_for(app_with(adb, *routers(adb, scope=open_only))) as client:
        r = await client.get("/agg_tasks/aggregate", params={"group_by": "status"})
        assert r.status_code == 200, r.text
        want = len([row for row in visible(TASKS) if row["status"] == "open"])
        assert [(i["group"]["status"], i["values"]["count"]) for i in r.json()["items"]] == [
            ("open", want)
        ]


async def test_a_nested_router_aggregates_the_parents_rows(adb, client_for):
    nested = CRUDRouter(
        Task,
        TaskRead,
        session=adb.session,
        parent=Task.project,
        tenancy=Tenancy("org_id", current=tenant_of),
        soft_delete="deleted_at",
        aggregates=Aggregates(group_by=["status"]),
    )
    async with client_for(app_with(adb, nested)) as client:
        r = await client.get("/agg_projects/2/agg_tasks/aggregate", params={"group_by": "status"})
        assert r.status_code == 200, r.text
        rows = [row for row in visible(TASKS) if row["project_id"] == 2]
        assert sum(i["values"]["count"] for i in r.json()["items"]) == len(rows)
        # Another tenant's project is missing, as an unknown one.
        assert (await client.get("/agg_projects/4/agg_tasks/aggregate")).status_code == 404
        assert (await client.get("/agg_projects/99/agg_tasks/aggregate")).status_code == 404


@pytest.mark.parametrize(
    ("params", "part"),
    [
        ({"group_by": "title"}, "group_by"),
        ({"aggregate": "sum_title"}, "aggregate"),
        ({"aggregate": "count,count"}, "aggregate"),
        ({"group_by": "status,status"}, "group_by"),
        ({"sort": "estimate"}, "sort"),
        ({"sort": "-sum_nope"}, "sort"),
        ({"sort": ","}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "100001"}, "offset"),
        ({"status__gt": "x" * 200}, "status__gt"),
        ({"bogus": "1"}, "bogus"),
        ({"or": "(nope=1)"}, "or"),
    ],
)
async def test_bad_requests_are_422s_naming_the_part(adb, client_for, params, part):
    async with client_for(app_with(adb, *routers(adb))) as client:
        r = await client.get("/agg_tasks/aggregate", params=params)
        assert r.status_code == 422, r.text
        assert part in [str(p) for p in r.json()["detail"][0]["loc"]], r.text


@pytest.mark.parametrize(
    ("aggregates", "message"),
    [
        (Aggregates(group_by=["nope"]), "nope"),
        (Aggregates(group_by="status"), "list of fields"),
        (Aggregates(functions={"title": ["sum"]}), "needs a number"),
        (Aggregates(functions={"estimate": ["median"]}), "median"),
        (Aggregates(functions={"estimate": ["count"]}), "always allowed"),
        (Aggregates(functions={"estimate": "sum"}), "list of functions"),
        (Aggregates(functions={"project.nope": ["max"]}), "nope"),
        ("status", "must be an Aggregates"),
    ],
)
def test_aggregate_mistakes_raise_when_the_router_is_built(aggregates, message):
    db = Database("sqlite+aiosqlite://")
    with pytest.raises(ConfigurationError, match=message):
        CRUDRouter(Task, TaskRead, session=db.session, aggregates=aggregates)


def test_the_document_types_each_aggregate():
    db = Database("sqlite+aiosqlite://")
    app = app_with(db, *routers(db))
    doc = app.openapi()
    operation = doc["paths"]["/agg_tasks/aggregate"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/TaskAggregates"}
    values = doc["components"]["schemas"]["TaskAggregateValues"]["properties"]

    def types(name: str) -> set[str]:
        return {s.get("type", s.get("format", "")) for s in values[name]["anyOf"]} - {"null"}

    assert types("count") == {"integer"}
    assert types("count_distinct_estimate") == {"integer"}
    assert types("sum_estimate") == {"number"}
    assert types("avg_estimate") == {"number"}
    assert types("max_estimate") == {"integer"}
    assert types("sum_cost") == {"string"}
    assert types("avg_weight") == {"number"}
    assert types("max_title") == {"string"}
    assert values["min_due"]["anyOf"][0] == {"format": "date", "type": "string"}
    groups = doc["components"]["schemas"]["TaskAggregateGroup"]["properties"]
    assert set(groups) == {"status", "project.name", "due"}
    names = [p["name"] for p in operation["parameters"]]
    own = ["group_by", "aggregate", "sort", "limit", "offset"]
    assert [n for n in names if n in own] == own
    assert {"status", "q", "or", "deleted", "starts"} <= set(names)
