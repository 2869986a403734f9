"""Tenancy: ``Tenancy(column, current)`` restricts every model that has the column to the
caller's tenant wherever a request reaches it (its own rows, nested parents, references in
writes, embeds, relationship paths, bulk writes, upserts, hooks, counts and cursors), on SQLite,
PostgreSQL and MariaDB; on PostgreSQL it can also set a setting for row-level security.

The caller's tenant is the ``X-Org`` header. Tenant A is organization 1, tenant B is
organization 2. A row outside what the caller may see must behave exactly like a row that does
not exist, so most checks compare the answer for a hidden row with the answer for an unknown id
(``UNKNOWN``), after replacing each id in the text by ``N``.
"""

from __future__ import annotations

import base64
import datetime
import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, ClassVar

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from crudrouter_sqla import ConfigurationError, CRUDRouter, Hooks, Tenancy
from crudrouter_sqla.core import Database
from tests.apps import app_with
from tests.support.databases import database_with
from tests.tenancymodels import (
    Base,
    Comment,
    Folder,
    FolderRead,
    Label,
    LabelRead,
    Organization,
    Page,
    PageRead,
    Project,
    ProjectAudit,
    ProjectCreateWithOrg,
    ProjectRead,
    ProjectWithTaskIds,
    Setting,
    SettingCreate,
    SettingRead,
    Status,
    StatusRead,
    Task,
    TaskCreate,
    TaskPlain,
    TaskPlainCreate,
    TaskRead,
    TaskWithOrgComments,
    Vault,
    VaultRead,
    task_labels,
)

A = {"x-org": "1"}
B = {"x-org": "2"}
UNKNOWN = 9009
"""An id no row has, in every table."""
WHEN = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)

postgresql_only = [pytest.mark.postgres_only, pytest.mark.parametrize("backend", ["postgresql"])]


def current_org(x_org: Annotated[int, Header()]) -> int:
    return x_org


def tenancy(**options: Any) -> Tenancy:
    """A `Tenancy` on ``org_id`` whose tenant is the ``X-Org`` header."""
    return Tenancy(column="org_id", current=current_org, **options)


@pytest.fixture
async def tdb(db_url: str) -> AsyncIterator[Database]:
    async with database_with(db_url, Base.metadata) as database:
        yield database


async def seed(db: Database) -> None:
    """Rows of both tenants with fixed ids (tenant B's in the 7000s), plus cross-tenant links
    the API cannot make, as legacy data would have them.

    Tenant A: projects 101 Apollo, 102 Archive (soft-deleted), 103 Cosmos; labels 111 Red,
    112 Green, 113 Old (soft-deleted); tasks 121 (Apollo, status Open, labels Red + Old + B's
    Blue, comments 131 and B's 7004), 122 (in B's project Borealis), 123 (in Archive),
    124 (Cosmos, status Done). Tenant B: project 7001 Borealis, label 7002 Blue, task 7003
    (Borealis, Open, Blue, comment 7005). Statuses 11 Open and 12 Done are shared.
    """
    async with db.open_session() as session:
        session.add_all([Organization(id=1, name="Acme"), Organization(id=2, name="Beta")])
        session.add_all([Status(id=11, name="Open"), Status(id=12, name="Done")])
        await session.flush()
        session.add_all(
            [
                Project(id=101, org_id=1, name="Apollo"),
                Project(id=102, org_id=1, name="Archive", deleted_at=WHEN),
                Project(id=103, org_id=1, name="Cosmos"),
                Project(id=7001, org_id=2, name="Borealis"),
                Label(id=111, org_id=1, name="Red"),
                Label(id=112, org_id=1, name="Green"),
                Label(id=113, org_id=1, name="Old", deleted_at=WHEN),
                Label(id=7002, org_id=2, name="Blue"),
            ]
        )
        await session.flush()
        session.add_all(
            [
                Task(id=121, org_id=1, project_id=101, status_id=11, title="Apollo launch"),
                Task(id=122, org_id=1, project_id=7001, title="Legacy link"),
                Task(id=123, org_id=1, project_id=102, title="Old work"),
                Task(id=124, org_id=1, project_id=103, status_id=12, title="Cosmos survey"),
                Task(id=7003, org_id=2, project_id=7001, status_id=11, title="Borealis launch"),
            ]
        )
        await session.flush()
        links = [(121, 111), (121, 113), (121, 7002), (7003, 7002)]
        await session.execute(
            insert(task_labels), [{"task_id": t, "label_id": label} for t, label in links]
        )
        session.add_all(
            [
                Comment(id=131, org_id=1, task_id=121, body="mine"),
                Comment(id=7004, org_id=2, task_id=121, body="theirs"),
                Comment(id=7005, org_id=2, task_id=7003, body="b's"),
            ]
        )


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order: equal before and after means nothing written."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with db.open_session() as session:
        for table in Base.metadata.sorted_tables:
            statement = select(table).order_by(*table.primary_key.columns)
            tables[table.name] = [tuple(row) for row in (await session.execute(statement)).all()]
    return tables


async def rows_of(db: Database, model: Any, **where: Any) -> list[Any]:
    async with db.open_session() as session:
        statement = select(model).filter_by(**where)
        return list((await session.scalars(statement)).all())


# Routers over Project and Label always name their soft-delete column, and are built before the
# routers that reach those models through relationships, so that the rule is declared first.


def projects_router(
    db: Database, schema: type[BaseModel] = ProjectRead, **options: Any
) -> CRUDRouter:
    options.setdefault("tenancy", tenancy())
    return CRUDRouter(Project, schema, session=db.session, soft_delete="deleted_at", **options)


def labels_router(db: Database, **options: Any) -> CRUDRouter:
    options.setdefault("tenancy", tenancy())
    return CRUDRouter(Label, LabelRead, session=db.session, soft_delete="deleted_at", **options)


def statuses_router(db: Database) -> CRUDRouter:
    return CRUDRouter(Status, StatusRead, session=db.session, tenancy=tenancy())


def tasks_router(db: Database, **options: Any) -> CRUDRouter:
    options.setdefault("tenancy", tenancy())
    return CRUDRouter(Task, TaskRead, TaskCreate, session=db.session, **options)


def plain_tasks_router(db: Database, **options: Any) -> CRUDRouter:
    return CRUDRouter(
        Task,
        TaskPlain,
        TaskPlainCreate,
        prefix="/plain-tasks",
        session=db.session,
        tenancy=tenancy(),
        filter_fields={"title": ["startswith"], "project.name": ["startswith"]},
        bulk_create_route=True,
        bulk_update_route=True,
        bulk_delete_route=True,
        **options,
    )


def normalised(r: httpx.Response, ident: Any) -> tuple[int, str]:
    return r.status_code, r.text.replace(str(ident), "N")


def assert_like_unknown(hidden: httpx.Response, hidden_id: Any, unknown: httpx.Response) -> None:
    """The answer for a hidden row is the answer for an unknown id, ids aside."""
    assert normalised(hidden, hidden_id) == normalised(unknown, UNKNOWN), (
        hidden.text,
        unknown.text,
    )


def ids(r: httpx.Response) -> list[Any]:
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def test_tenancy_is_public():
    import crudrouter_sqla

    assert "Tenancy" in crudrouter_sqla.__all__
    assert crudrouter_sqla.Tenancy is Tenancy


# The router's own rows ----------------------------------------------------------------------


async def test_own_rows_are_the_tenants(tdb, client_for):
    await seed(tdb)
    async with client_for(app_with(tdb, projects_router(tdb))) as client:
        r = await client.get("/projects", headers=A)
        assert ids(r) == [101, 103]
        assert r.json()["total"] == 2
        assert ids(await client.get("/projects", headers=B)) == [7001]
        for method, body in [
            ("GET", None),
            ("PUT", {"name": "Mine now"}),
            ("PATCH", {"name": "Mine now"}),
            ("DELETE", None),
        ]:
            hidden = await client.request(method, "/projects/7001", json=body, headers=A)
            unknown = await client.request(method, f"/projects/{UNKNOWN}", json=body, headers=A)
            assert hidden.status_code == 404, (method, hidden.text)
            assert_like_unknown(hidden, 7001, unknown)
        r = await client.post("/projects", json={"name": "Nova"}, headers=A)
        assert r.status_code == 201, r.text
        assert r.json()["org_id"] == 1
        assert r.json()["id"] not in ids(await client.get("/projects", headers=B))
    (borealis,) = await rows_of(tdb, Project, org_id=2)
    assert (borealis.id, borealis.name, borealis.deleted_at) == (7001, "Borealis", None)


async def test_models_without_the_column_are_shared(tdb, client_for):
    await seed(tdb)
    app = app_with(tdb, projects_router(tdb), labels_router(tdb), statuses_router(tdb))
    app.include_router(tasks_router(tdb, filter_fields={"status.name": ["eq"]}))
    async with client_for(app) as client:
        assert ids(await client.get("/statuses", headers=A)) == [11, 12]
        assert ids(await client.get("/statuses", headers=B)) == [11, 12]
        r = await client.post("/statuses", json={"name": "Blocked"}, headers=A)
        assert r.status_code == 201, r.text
        assert len(ids(await client.get("/statuses", headers=B))) == 3
        for headers, project in ((A, 101), (B, 7001)):
            body = {"title": "Shared status", "project_id": project, "status_id": 12}
            r = await client.post("/tasks", json=body, headers=headers)
            assert r.status_code == 201, r.text
            assert r.json()["status"] == {"id": 12, "name": "Done"}
        r = await client.get("/tasks/7003", headers=B)
        assert r.json()["status"] == {"id": 11, "name": "Open"}, r.text
        assert ids(await client.get("/tasks", params={"status.name": "Open"}, headers=A)) == [121]
        assert ids(await client.get("/tasks", params={"status.name": "Open"}, headers=B)) == [7003]


# What a client may write --------------------------------------------------------------------


def body_properties(doc: dict[str, Any], path: str, method: str) -> set[str]:
    """The properties of the request body schema of an operation."""
    schema = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    if schema.get("type") == "array":
        schema = schema["items"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return set(schema["properties"])


async def test_derived_write_schemas_leave_out_the_tenant_and_soft_delete_columns(tdb, client_for):
    await seed(tdb)
    router = projects_router(
        tdb,
        ProjectAudit,
        filter_fields={"name": ["startswith"]},
        bulk_create_route=True,
        bulk_update_route=True,
    )
    app = app_with(tdb, router)
    doc = app.openapi()
    operations = [
        ("/projects", "post"),
        ("/projects/{item_id}", "put"),
        ("/projects/{item_id}", "patch"),
        ("/projects/bulk", "post"),
        ("/projects", "patch"),
    ]
    for path, method in operations:
        properties = body_properties(doc, path, method)
        assert "name" in properties, (path, method, properties)
        assert not {"org_id", "deleted_at"} & properties, (path, method, properties)
    async with client_for(app) as client:
        # Sending the tenant column is refused, or it is overwritten by the caller's tenant.
        for method, path, body in [
            ("POST", "/projects", {"name": "Into B", "org_id": 2}),
            ("PUT", "/projects/101", {"name": "Apollo", "org_id": 2}),
            ("PATCH", "/projects/101", {"org_id": 2}),
            ("POST", "/projects/bulk", [{"name": "Into B", "org_id": 2}]),
            ("PATCH", "/projects?name__startswith=Apo", {"org_id": 2}),
        ]:
            r = await client.request(method, path, json=body, headers=A)
            assert r.status_code in (200, 201, 422), (method, path, r.text)
        assert [p.id for p in await rows_of(tdb, Project, org_id=2)] == [7001]
        r = await client.get("/projects/101", headers=A)
        assert r.status_code == 200, r.text
        assert r.json()["org_id"] == 1
        # The soft-delete column is not writable either, even where the read schema shows it.
        for method, path, body in [
            ("POST", "/projects", {"name": "Gone", "deleted_at": WHEN.isoformat()}),
            ("PUT", "/projects/101", {"name": "Apollo", "deleted_at": WHEN.isoformat()}),
            ("PATCH", "/projects/101", {"deleted_at": WHEN.isoformat()}),
            ("POST", "/projects/bulk", [{"name": "Gone", "deleted_at": WHEN.isoformat()}]),
            ("PATCH", "/projects?name__startswith=Apo", {"deleted_at": WHEN.isoformat()}),
        ]:
            r = await client.request(method, path, json=body, headers=A)
            assert r.status_code == 422, (method, path, r.text)
            assert "deleted_at" in r.text, (method, path, r.text)
        r = await client.get("/projects/101", headers=A)
        assert r.status_code == 200, r.text
        assert r.json()["deleted_at"] is None
    assert [p.name for p in await rows_of(tdb, Project, name="Gone")] == []


async def test_a_tenant_column_in_the_applications_schema_is_overwritten(tdb, client_for):
    await seed(tdb)
    try:
        router = projects_router(tdb, create_schema=ProjectCreateWithOrg)
    except ConfigurationError as exc:
        # Refusing such a schema when the router is built is as good.
        assert "org_id" in str(exc)
        return
    async with client_for(app_with(tdb, router)) as client:
        r = await client.post("/projects", json={"name": "Into B", "org_id": 2}, headers=A)
        assert r.status_code in (201, 422), r.text
        if r.status_code == 201:
            assert r.json()["org_id"] == 1
        r = await client.put("/projects/101", json={"name": "Apollo", "org_id": 2}, headers=A)
        assert r.status_code in (200, 422), r.text
        r = await client.patch("/projects/101", json={"org_id": 2}, headers=A)
        assert r.status_code in (200, 422), r.text
    assert [p.id for p in await rows_of(tdb, Project, org_id=2)] == [7001]
    assert {p.org_id for p in await rows_of(tdb, Project, name="Into B")} <= {1}


async def test_child_bodies_are_stamped_with_the_tenant(tdb, client_for):
    await seed(tdb)
    app = app_with(tdb, projects_router(tdb), labels_router(tdb), tasks_router(tdb))
    async with client_for(app) as client:
        body = {"title": "Talk", "project_id": 101, "comments": [{"body": "c1"}, {"body": "c2"}]}
        r = await client.post("/tasks", json=body, headers=A)
        assert r.status_code == 201, r.text
        task = r.json()["id"]
        assert [(c["body"], c["org_id"]) for c in r.json()["comments"]] == [("c1", 1), ("c2", 1)]
        body = {"title": "Talk", "project_id": 101, "comments": [{"body": "c3"}]}
        r = await client.put(f"/tasks/{task}", json=body, headers=A)
        assert r.status_code == 200, r.text
        assert [(c["body"], c["org_id"]) for c in r.json()["comments"]] == [("c3", 1)]
        r = await client.patch(f"/tasks/{task}", json={"comments": [{"body": "c4"}]}, headers=A)
        assert r.status_code == 200, r.text
        assert [(c["body"], c["org_id"]) for c in r.json()["comments"]] == [("c4", 1)]
        r = await client.post(
            "/tasks", json={"title": "B talk", "comments": [{"body": "b1"}]}, headers=B
        )
        assert r.status_code == 201, r.text
        assert [c["org_id"] for c in r.json()["comments"]] == [2]
    assert [(c.body, c.org_id) for c in await rows_of(tdb, Comment, task_id=task)] == [("c4", 1)]


async def test_a_child_body_cannot_be_put_in_another_tenant(tdb, client_for):
    await seed(tdb)
    try:
        router = CRUDRouter(
            Task,
            TaskPlain,
            TaskWithOrgComments,
            prefix="/org-tasks",
            session=tdb.session,
            tenancy=tenancy(),
        )
    except ConfigurationError as exc:
        assert "org_id" in str(exc)
        return
    before = [(c.id, c.task_id) for c in await rows_of(tdb, Comment, org_id=2)]
    async with client_for(app_with(tdb, projects_router(tdb), router)) as client:
        body = {"title": "Sneaky", "comments": [{"body": "x", "org_id": 2}]}
        r = await client.post("/org-tasks", json=body, headers=A)
        assert r.status_code in (201, 422), r.text
        r = await client.put("/org-tasks/124", json=body, headers=A)
        assert r.status_code in (200, 422), r.text
        r = await client.patch("/org-tasks/124", json={"comments": body["comments"]}, headers=A)
        assert r.status_code in (200, 422), r.text
    assert [(c.id, c.task_id) for c in await rows_of(tdb, Comment, org_id=2)] == before


# References outside the tenant ------------------------------------------------------------


def reference_app(db: Database) -> FastAPI:
    return app_with(
        db,
        projects_router(db, create_schema=ProjectWithTaskIds),
        labels_router(db),
        statuses_router(db),
        tasks_router(db),
        plain_tasks_router(db),
    )


# (name, method, path, body for a referenced key, hidden keys: another tenant's, soft-deleted)
REFERENCES: list[tuple[str, str, str, Any, list[int]]] = [
    ("fk-create", "POST", "/tasks", lambda k: {"title": "x", "project_id": k}, [7001, 102]),
    (
        "fk-replace",
        "PUT",
        "/tasks/121",
        lambda k: {"title": "Apollo launch", "project_id": k},
        [7001, 102],
    ),
    ("fk-update", "PATCH", "/tasks/121", lambda k: {"project_id": k}, [7001, 102]),
    (
        "fk-bulk-create",
        "POST",
        "/plain-tasks/bulk",
        lambda k: [{"title": "ok", "project_id": 101}, {"title": "x", "project_id": k}],
        [7001, 102],
    ),
    (
        "fk-bulk-update",
        "PATCH",
        "/plain-tasks?title__startswith=Apollo",
        lambda k: {"project_id": k},
        [7001, 102],
    ),
    ("m2m-create", "POST", "/tasks", lambda k: {"title": "x", "labels": [111, k]}, [7002, 113]),
    ("m2m-update", "PATCH", "/tasks/121", lambda k: {"labels": [112, k]}, [7002, 113]),
    ("o2m-create", "POST", "/projects", lambda k: {"name": "x", "tasks": [124, k]}, [7003]),
    ("o2m-update", "PATCH", "/projects/101", lambda k: {"tasks": [121, k]}, [7003]),
]


async def test_a_hidden_reference_behaves_as_an_unknown_one(tdb, client_for):
    await seed(tdb)
    before = await snapshot(tdb)
    async with client_for(reference_app(tdb)) as client:
        for name, method, path, body, hidden_keys in REFERENCES:
            unknown = await client.request(method, path, json=body(UNKNOWN), headers=A)
            assert unknown.status_code == 409, (name, unknown.text)
            assert await snapshot(tdb) == before, name
            for key in hidden_keys:
                hidden = await client.request(method, path, json=body(key), headers=A)
                assert normalised(hidden, key) == normalised(unknown, UNKNOWN), (
                    name,
                    key,
                    hidden.text,
                    unknown.text,
                )
                assert await snapshot(tdb) == before, (name, key)
        # The tenant's own keys are accepted (so the refusals above are about visibility).
        r = await client.post(
            "/tasks", json={"title": "ok", "project_id": 103, "labels": [111, 112]}, headers=A
        )
        assert r.status_code == 201, r.text
        assert sorted(label["id"] for label in r.json()["labels"]) == [111, 112]
        r = await client.patch("/projects/103", json={"tasks": [124, 122]}, headers=A)
        assert r.status_code == 200, r.text


# Nested routes ------------------------------------------------------------------------------


def nested_app(db: Database) -> FastAPI:
    return app_with(
        db,
        projects_router(db),
        CRUDRouter(Task, TaskPlain, parent=Task.project, session=db.session, tenancy=tenancy()),
    )


NESTED = [
    ("GET", "/projects/{p}/tasks", None),
    ("GET", "/projects/{p}/tasks/{t}", None),
    ("POST", "/projects/{p}/tasks", {"title": "x"}),
    ("PUT", "/projects/{p}/tasks/{t}", {"title": "x"}),
    ("PATCH", "/projects/{p}/tasks/{t}", {"title": "x"}),
    ("DELETE", "/projects/{p}/tasks/{t}", None),
]


@pytest.mark.parametrize(
    ("project", "task"), [(7001, 7003), (102, 123)], ids=["other-tenant", "soft-deleted"]
)
async def test_a_hidden_parent_is_404_like_an_unknown_one(tdb, client_for, project, task):
    await seed(tdb)
    before = await snapshot(tdb)
    async with client_for(nested_app(tdb)) as client:
        for method, path, body in NESTED:
            url = path.format(p=project, t=task)
            hidden = await client.request(method, url, json=body, headers=A)
            assert hidden.status_code == 404, (method, url, hidden.text)
            url = path.format(p=UNKNOWN, t=task)
            unknown = await client.request(method, url, json=body, headers=A)
            assert normalised(hidden, project) == normalised(unknown, UNKNOWN), (
                method,
                url,
                hidden.text,
                unknown.text,
            )
    assert await snapshot(tdb) == before


async def test_nested_routes_serve_the_tenants_live_parents(tdb, client_for):
    await seed(tdb)
    async with client_for(nested_app(tdb)) as client:
        assert ids(await client.get("/projects/101/tasks", headers=A)) == [121]
        # Task 122 of tenant A points at B's project: B does not see it there.
        assert ids(await client.get("/projects/7001/tasks", headers=B)) == [7003]
        r = await client.get("/projects/7001/tasks/122", headers=B)
        assert r.status_code == 404, r.text
        r = await client.post("/projects/101/tasks", json={"title": "Next"}, headers=A)
        assert r.status_code == 201, r.text
        assert (r.json()["org_id"], r.json()["project_id"]) == (1, 101)
        r = await client.patch("/projects/101/tasks/121", json={"title": "Go"}, headers=A)
        assert r.status_code == 200, r.text


# Embeds and relationship paths --------------------------------------------------------------


def reading_app(db: Database) -> FastAPI:
    return app_with(
        db,
        projects_router(db),
        labels_router(db),
        statuses_router(db),
        tasks_router(
            db,
            filter_fields={
                "project.name": ["startswith"],
                "labels.name": ["eq"],
                "status.name": ["eq"],
            },
            sort_fields=["title", "project.name"],
            search_fields=["title", "project.name"],
        ),
    )


def embedded(task: dict[str, Any]) -> tuple[Any, list[int], list[int]]:
    project = task["project"]["id"] if task["project"] else None
    return project, [x["id"] for x in task["labels"]], [x["id"] for x in task["comments"]]


async def test_embeds_show_only_visible_rows(tdb, client_for):
    await seed(tdb)
    expected = {
        121: (101, [111], [131]),  # not B's label 7002, the deleted label 113, B's comment 7004
        122: (None, [], []),  # B's project
        123: (None, [], []),  # a soft-deleted project
        124: (103, [], []),
    }
    async with client_for(reading_app(tdb)) as client:
        for task, seen in expected.items():
            r = await client.get(f"/tasks/{task}", headers=A)
            assert r.status_code == 200, r.text
            assert embedded(r.json()) == seen, (task, r.text)
        r = await client.get("/tasks", headers=A)
        assert ids(r) == list(expected)
        assert {t["id"]: embedded(t) for t in r.json()["items"]} == expected
        assert "Borealis" not in r.text and "Blue" not in r.text and "theirs" not in r.text
        r = await client.get("/tasks", params={"fields": "id,project,labels"}, headers=A)
        assert r.status_code == 200, r.text
        assert {
            t["id"]: (t["project"]["id"] if t["project"] else None, [x["id"] for x in t["labels"]])
            for t in r.json()["items"]
        } == {task: seen[:2] for task, seen in expected.items()}
        r = await client.get("/tasks/7003", headers=B)
        assert embedded(r.json()) == (7001, [7002], [7005]), r.text


# (case, query, the tasks tenant A gets)
PATHS: list[tuple[str, dict[str, str], list[int]]] = [
    ("filter-other-tenant", {"project.name__startswith": "Bo"}, []),  # linked by legacy data
    ("filter-soft-deleted", {"project.name__startswith": "Ar"}, []),
    ("filter-visible", {"project.name__startswith": "Ap"}, [121]),
    ("to-many-other-tenant", {"labels.name": "Blue"}, []),  # B's label on A's task
    ("to-many-soft-deleted", {"labels.name": "Old"}, []),
    ("to-many-visible", {"labels.name": "Red"}, [121]),
    ("search-other-tenant", {"q": "Borealis"}, []),
    ("search-soft-deleted", {"q": "Archive"}, []),
    ("search-visible", {"q": "Cosmos"}, [124]),
    # Hidden projects sort as no project: last, in key order.
    ("sort", {"sort": "project.name"}, [121, 124, 122, 123]),
]


async def test_relationship_paths_never_reach_hidden_rows(tdb, client_for):
    await seed(tdb)
    async with client_for(reading_app(tdb)) as client:
        for case, params, expected in PATHS:
            r = await client.get("/tasks", params=params, headers=A)
            assert r.status_code == 200, (case, r.text)
            assert ids(r) == expected, (case, r.text)
            assert r.json()["total"] == len(expected), (case, r.text)


# Bulk writes ------------------------------------------------------------------------------


async def test_bulk_writes_stay_in_the_tenant(tdb, client_for):
    await seed(tdb)
    projects = projects_router(
        tdb,
        filter_fields={"id": ["gte"]},
        bulk_create_route=True,
        bulk_update_route=True,
        bulk_delete_route=True,
    )
    async with client_for(app_with(tdb, projects, plain_tasks_router(tdb))) as client:
        r = await client.post(
            "/projects/bulk", json=[{"name": "Nova"}, {"name": "Orion"}], headers=A
        )
        assert r.status_code == 201, r.text
        assert [p["org_id"] for p in r.json()] == [1, 1]
        # Relationship paths of bulk filters do not reach B's or soft-deleted projects.
        for prefix in ("Bo", "Ar"):
            params = {"project.name__startswith": prefix}
            r = await client.patch("/plain-tasks", params=params, json={"title": "x"}, headers=A)
            assert r.json() == {"count": 0}, (prefix, r.text)
            r = await client.delete("/plain-tasks", params=params, headers=A)
            assert r.json() == {"count": 0}, (prefix, r.text)
        r = await client.patch(
            "/plain-tasks",
            params={"project.name__startswith": "Ap"},
            json={"title": "Go"},
            headers=A,
        )
        assert r.json() == {"count": 1}, r.text
        r = await client.patch("/projects?id__gte=1", json={"name": "Renamed"}, headers=A)
        assert r.status_code == 200, r.text
        assert r.json() == {"count": 4}  # 101, 103, Nova, Orion
        r = await client.delete("/projects?id__gte=1", headers=A)
        assert r.json() == {"count": 4}, r.text
        assert ids(await client.get("/projects", headers=B)) == [7001]
    (borealis,) = await rows_of(tdb, Project, org_id=2)
    assert (borealis.name, borealis.deleted_at) == ("Borealis", None)
    (archive,) = await rows_of(tdb, Project, id=102)
    assert archive.name == "Archive"
    titles = {t.id: t.title for t in await rows_of(tdb, Task)}
    assert (titles[122], titles[123], titles[7003]) == (
        "Legacy link",
        "Old work",
        "Borealis launch",
    )


class BulkUpdateHooks(Hooks):
    calls: ClassVar[list[tuple[str, Any]]] = []

    async def before_update(
        self, session: AsyncSession, item_id: Any, values: dict[str, Any]
    ) -> None:
        self.calls.append(("before_update", item_id))

    async def after_update(self, session: AsyncSession, item: BaseModel) -> None:
        self.calls.append(("after_update", item.id))  # type: ignore[attr-defined]


class BulkDeleteHooks(Hooks):
    calls: ClassVar[list[tuple[str, Any]]] = []

    async def before_delete(self, session: AsyncSession, item_id: Any) -> None:
        self.calls.append(("before_delete", item_id))

    async def after_delete(self, session: AsyncSession, item_id: Any) -> None:
        self.calls.append(("after_delete", item_id))


@pytest.mark.parametrize(
    ("hooks", "switch", "method", "body"),
    [
        (BulkUpdateHooks, "bulk_update_route", "PATCH", {"name": "Renamed"}),
        (BulkDeleteHooks, "bulk_delete_route", "DELETE", None),
    ],
    ids=["update", "delete"],
)
async def test_bulk_writes_run_the_hooks_per_row_or_refuse_them(
    tdb, client_for, hooks, switch, method, body
):
    await seed(tdb)
    hooks.calls = []
    try:
        router = projects_router(tdb, filter_fields={"id": ["gte"]}, hooks=hooks, **{switch: True})
    except ConfigurationError as exc:
        assert re.search(r"hook|before_|after_", str(exc)), str(exc)
        return
    async with client_for(app_with(tdb, router)) as client:
        r = await client.request(method, "/projects?id__gte=1", json=body, headers=A)
        assert r.status_code == 200, r.text
        assert r.json() == {"count": 2}
    verb = "update" if method == "PATCH" else "delete"
    for when in ("before", "after"):
        called = sorted(ident for name, ident in hooks.calls if name == f"{when}_{verb}")
        assert called == [101, 103], (when, hooks.calls)


# Upserts ----------------------------------------------------------------------------------


async def seed_settings(db: Database) -> None:
    async with db.open_session() as session:
        session.add_all([Organization(id=1, name="Acme"), Organization(id=2, name="Beta")])
        await session.flush()
        session.add_all(
            [
                Setting(key="theme", org_id=2, value="b-dark", code="c-b"),
                Setting(key="mine", org_id=1, value="a-old", code="c-a"),
            ]
        )


def settings_router(db: Database, **options: Any) -> CRUDRouter:
    return CRUDRouter(
        Setting,
        SettingRead,
        SettingCreate,
        session=db.session,
        tenancy=tenancy(),
        bulk_create_route=True,
        **options,
    )


@pytest.mark.parametrize(
    ("options", "clash"),
    [
        ({"upsert": True}, {"key": "theme", "value": "stolen", "code": "c-new2"}),
        ({"conflict_target": ["code"]}, {"key": "a-theme", "value": "stolen", "code": "c-b"}),
    ],
    ids=["primary-key", "unique-constraint"],
)
async def test_bulk_upsert_never_reaches_another_tenants_row(tdb, client_for, options, clash):
    await seed_settings(tdb)
    before = await snapshot(tdb)
    rows = [{"key": "a-new", "value": "fresh", "code": "c-new1"}, clash]
    async with client_for(app_with(tdb, settings_router(tdb, **options))) as client:
        plain = await client.post("/settings/bulk", json=rows, headers=A)
        assert plain.status_code == 409, plain.text
        assert "item 1" in plain.json()["detail"], plain.text
        r = await client.post(
            "/settings/bulk", params={"on_conflict": "update"}, json=rows, headers=A
        )
        assert (r.status_code, r.json()) == (plain.status_code, plain.json())
        assert await snapshot(tdb) == before
        r = await client.post(
            "/settings/bulk", params={"on_conflict": "ignore"}, json=rows, headers=A
        )
        assert r.status_code == 201, r.text
        assert [(s["key"], s["org_id"]) for s in r.json()] == [("a-new", 1)]
        assert "b-dark" not in r.text and "c-b" not in r.text
        # A PUT on B's key neither replaces nor creates it.
        r = await client.put("/settings/theme", json={"value": "stolen"}, headers=A)
        assert r.status_code in (404, 409), r.text
        # The tenant's own rows are updated.
        own = [{"key": "mine", "value": "a-new", "code": "c-a"}]
        r = await client.post(
            "/settings/bulk", params={"on_conflict": "update"}, json=own, headers=A
        )
        assert r.status_code == 201, r.text
        assert [(s["key"], s["value"], s["org_id"]) for s in r.json()] == [("mine", "a-new", 1)]
    (theirs,) = await rows_of(tdb, Setting, org_id=2)
    assert (theirs.key, theirs.value, theirs.code, theirs.version) == ("theme", "b-dark", "c-b", 1)


async def test_bulk_upsert_bumps_the_version(tdb, client_for):
    await seed_settings(tdb)
    async with client_for(app_with(tdb, settings_router(tdb, upsert=True))) as client:
        r = await client.put("/settings/pref", json={"value": "v1"}, headers=A)
        assert r.status_code == 201, r.text
        first = r.headers["etag"]
        rows = [{"key": "pref", "value": "v2"}]
        r = await client.post(
            "/settings/bulk", params={"on_conflict": "update"}, json=rows, headers=A
        )
        assert r.status_code == 201, r.text
        r = await client.get("/settings/pref", headers=A)
        assert r.json()["value"] == "v2", r.text
        assert r.headers["etag"] != first
        current = r.headers["etag"]
        r = await client.patch(
            "/settings/pref", json={"value": "v3"}, headers={**A, "If-Match": first}
        )
        assert r.status_code == 412, r.text
        r = await client.patch(
            "/settings/pref", json={"value": "v3"}, headers={**A, "If-Match": current}
        )
        assert r.status_code == 200, r.text


async def test_upsert_with_the_tenant_in_the_key(tdb, client_for):
    await seed_settings(tdb)
    async with tdb.open_session() as session:
        session.add_all(
            [
                Page(org_id=2, slug="welcome", title="B welcome"),
                Page(org_id=1, slug="about", title="A about"),
            ]
        )
    router = CRUDRouter(
        Page,
        PageRead,
        session=tdb.session,
        tenancy=tenancy(),
        upsert=True,
        bulk_create_route=True,
    )
    app = app_with(tdb, router)
    assert "/pages/{org_id}/{slug}" in app.openapi()["paths"]
    async with client_for(app) as client:
        for method, body in [
            ("GET", None),
            ("PUT", {"title": "Hijacked"}),
            ("PATCH", {"title": "Hijacked"}),
            ("DELETE", None),
        ]:
            hidden = await client.request(method, "/pages/2/welcome", json=body, headers=A)
            assert hidden.status_code == 404, (method, hidden.text)
            unknown = await client.request(method, "/pages/3/welcome", json=body, headers=A)
            assert normalised(hidden, 2) == normalised(unknown, 3), (hidden.text, unknown.text)
        r = await client.put("/pages/2/fresh", json={"title": "Planted"}, headers=A)
        assert r.status_code == 404, r.text
        r = await client.put("/pages/1/welcome", json={"title": "A welcome"}, headers=A)
        assert r.status_code == 201, r.text
        assert r.json() == {"org_id": 1, "slug": "welcome", "title": "A welcome"}
        r = await client.put("/pages/1/welcome", json={"title": "A welcome!"}, headers=A)
        assert r.status_code == 200, r.text
        rows = [{"slug": "welcome", "title": "A2"}, {"slug": "news", "title": "N"}]
        r = await client.post("/pages/bulk", params={"on_conflict": "update"}, json=rows, headers=A)
        assert r.status_code == 201, r.text
        assert [(p["org_id"], p["slug"], p["title"]) for p in r.json()] == [
            (1, "welcome", "A2"),
            (1, "news", "N"),
        ]
        r = await client.get("/pages", headers=A)
        assert r.status_code == 200, r.text
        assert {p["org_id"] for p in r.json()["items"]} == {1}
    theirs = await rows_of(tdb, Page, org_id=2)
    assert [(p.slug, p.title) for p in theirs] == [("welcome", "B welcome")]


# Hooks ------------------------------------------------------------------------------------


class RefusingHooks(Hooks):
    calls: ClassVar[list[tuple[str, Any]]] = []

    async def before_update(
        self, session: AsyncSession, item_id: Any, values: dict[str, Any]
    ) -> None:
        self.calls.append(("before_update", item_id))
        raise HTTPException(status_code=403, detail="Projects are frozen")

    async def before_delete(self, session: AsyncSession, item_id: Any) -> None:
        self.calls.append(("before_delete", item_id))
        raise HTTPException(status_code=403, detail="Projects are frozen")


@pytest.mark.parametrize(
    ("project", "owner"), [(7001, B), (102, None)], ids=["other-tenant", "soft-deleted"]
)
async def test_hooks_never_see_hidden_rows(tdb, client_for, project, owner):
    await seed(tdb)
    router = projects_router(tdb, hooks=RefusingHooks)
    before = await snapshot(tdb)
    async with client_for(app_with(tdb, router)) as client:
        for method, body in [("PATCH", {"name": "x"}), ("PUT", {"name": "x"}), ("DELETE", None)]:
            RefusingHooks.calls = []
            hidden = await client.request(method, f"/projects/{project}", json=body, headers=A)
            assert hidden.status_code == 404, (method, hidden.text)
            assert RefusingHooks.calls == [], method
            unknown = await client.request(method, f"/projects/{UNKNOWN}", json=body, headers=A)
            assert normalised(hidden, project) == normalised(unknown, UNKNOWN), (
                hidden.text,
                unknown.text,
            )
            # The hook does refuse where the row is visible.
            visible, headers = (project, owner) if owner is not None else (101, A)
            r = await client.request(method, f"/projects/{visible}", json=body, headers=headers)
            assert (r.status_code, r.json()) == (403, {"detail": "Projects are frozen"}), r.text
    assert await snapshot(tdb) == before


class ValuesSeen(Hooks):
    seen: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    async def before_create(self, session: AsyncSession, values: dict[str, Any]) -> None:
        self.seen.append(("create", dict(values)))

    async def before_update(
        self, session: AsyncSession, item_id: Any, values: dict[str, Any]
    ) -> None:
        self.seen.append(("update", dict(values)))


async def test_hook_values_hold_the_key_lists_the_request_sets(tdb, client_for):
    await seed(tdb)
    ValuesSeen.seen = []
    app = app_with(
        tdb,
        projects_router(tdb, create_schema=ProjectWithTaskIds, hooks=ValuesSeen),
        labels_router(tdb),
        tasks_router(tdb, hooks=ValuesSeen),
    )
    async with client_for(app) as client:
        body = {"title": "Tagged", "project_id": 101, "labels": [111, 112]}
        r = await client.post("/tasks", json=body, headers=A)
        assert r.status_code == 201, r.text
        task = r.json()["id"]
        assert ValuesSeen.seen[-1][0] == "create"
        assert ValuesSeen.seen[-1][1]["labels"] == [111, 112]
        r = await client.patch(f"/tasks/{task}", json={"labels": [112]}, headers=A)
        assert r.status_code == 200, r.text
        assert ValuesSeen.seen[-1][0] == "update"
        assert ValuesSeen.seen[-1][1]["labels"] == [112]
        r = await client.put(f"/tasks/{task}", json={"title": "T", "labels": [111]}, headers=A)
        assert r.status_code == 200, r.text
        assert ValuesSeen.seen[-1][1]["labels"] == [111]
        r = await client.patch(f"/tasks/{task}", json={"title": "Untagged"}, headers=A)
        assert r.status_code == 200, r.text
        assert "labels" not in ValuesSeen.seen[-1][1]
        r = await client.post("/projects", json={"name": "Moved", "tasks": [124]}, headers=A)
        assert r.status_code == 201, r.text
        assert ValuesSeen.seen[-1][1]["tasks"] == [124]


# Counts and cursors -----------------------------------------------------------------------


def own_projects(org: Annotated[int, Depends(current_org)]) -> Any:
    return Project.org_id == org


def assert_exact_or_refused(r: httpx.Response, total: int) -> None:
    if r.status_code == 422:
        assert "count" in str(r.json()["detail"]), r.text
    else:
        assert r.status_code == 200, r.text
        assert r.json()["total"] == total, r.text


@pytest.mark.parametrize("guard", ["tenancy", "scope"])
@pytest.mark.parametrize("threshold", [1000, 1], ids=["default-threshold", "threshold-1"])
@pytest.mark.postgres_only
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_estimated_counts_never_count_other_tenants(tdb, client_for, guard, threshold):
    async with tdb.open_session() as session:
        session.add_all([Organization(id=1, name="Acme"), Organization(id=2, name="Beta")])
        await session.flush()
        rows = [{"org_id": 2, "name": f"b-{i:04d}"} for i in range(1500)]
        rows += [{"org_id": 1, "name": f"a-{i}"} for i in range(3)]
        await session.execute(insert(Project), rows)
    async with tdb.open_session() as session:
        await session.execute(text("ANALYZE projects"))
    guarded: dict[str, Any] = {"tenancy": tenancy()} if guard == "tenancy" else {}
    if guard == "scope":
        guarded["scope"] = own_projects
    router = CRUDRouter(
        Project,
        ProjectRead,
        session=tdb.session,
        filter_fields={"name": ["startswith"]},
        estimate_threshold=threshold,
        **guarded,
    )
    async with client_for(app_with(tdb, router)) as client:
        r = await client.get("/projects", params={"count": "exact"}, headers=A)
        assert r.json()["total"] == 3, r.text
        r = await client.get("/projects", params={"count": "estimated"}, headers=A)
        assert_exact_or_refused(r, 3)
        params = {"count": "estimated", "name__startswith": "b"}
        r = await client.get("/projects", params=params, headers=A)
        assert_exact_or_refused(r, 0)


def decoded(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


async def test_cursors_do_not_reveal_columns_the_read_schema_hides(tdb, client_for):
    try:
        router = CRUDRouter(Vault, VaultRead, session=tdb.session, sort_fields=["secret"])
    except ConfigurationError as exc:
        assert "secret" in str(exc)
        return
    secrets = ["zq-hidden-alpha", "zq-hidden-bravo", "zq-hidden-charlie"]
    async with tdb.open_session() as session:
        session.add_all(Vault(id=i, name=f"v{i}", secret=s) for i, s in enumerate(secrets, 1))
    async with client_for(app_with(tdb, router)) as client:
        seen: list[int] = []
        params: dict[str, Any] = {"sort": "secret", "limit": 1}
        cursors: list[str] = []
        while True:
            r = await client.get("/vaults", params=params)
            seen += ids(r)
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
            cursors.append(cursor)
            params = {"sort": "secret", "limit": 1, "cursor": cursor}
        assert seen == [1, 2, 3]
        assert cursors, "sorting by the hidden column must still page by cursor"
        for cursor in cursors:
            raw = decoded(cursor)
            assert not any(s.encode() in raw or s in cursor for s in secrets), raw
            assert b"zq-hidden" not in raw, raw


# Declarations -----------------------------------------------------------------------------


def test_contradicting_soft_delete_rules_for_one_model_raise():
    CRUDRouter(Folder, FolderRead, soft_delete="deleted_at")
    with pytest.raises(ConfigurationError) as caught:
        CRUDRouter(Folder, FolderRead, soft_delete="archived_at")
    message = str(caught.value)
    assert "deleted_at" in message and "archived_at" in message, message


# Row-level security -----------------------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_postgres_setting_lets_row_level_security_guard_hand_written_routes(
    db_url, client_for
):
    role = f"tenant_app_{uuid.uuid4().hex[:12]}"
    async with database_with(db_url, Base.metadata) as owner:
        await seed(owner)
        async with owner.open_session() as session:
            for statement in (
                "ALTER TABLE projects ENABLE ROW LEVEL SECURITY",
                "CREATE POLICY tenant ON projects "
                "USING (org_id = current_setting('app.tenant_id')::int)",
                f"CREATE ROLE {role} LOGIN PASSWORD 'app-password'",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
                f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
            ):
                await session.execute(text(statement))
        url = make_url(db_url).set(username=role, password="app-password")
        app_db = Database(url.render_as_string(hide_password=False))
        try:
            router = projects_router(app_db, tenancy=tenancy(postgres_setting="app.tenant_id"))

            @router.get("/raw")
            async def raw(session: AsyncSession = Depends(app_db.session)) -> list[int]:
                """All projects, as the policy lets the request's session see them."""
                return list(await session.scalars(select(Project.id).order_by(Project.id)))

            async with client_for(app_with(app_db, router)) as client:
                for _ in range(2):  # alternate, so a pooled connection keeps no tenant
                    r = await client.get("/projects/raw", headers=A)
                    assert r.status_code == 200, r.text
                    assert r.json() == [101, 102, 103]  # RLS knows nothing of soft delete
                    r = await client.get("/projects/raw", headers=B)
                    assert r.status_code == 200, r.text
                    assert r.json() == [7001]
                r = await client.post("/projects", json={"name": "Nova"}, headers=A)
                assert r.status_code == 201, r.text
                nova = r.json()["id"]
                assert ids(await client.get("/projects", headers=A)) == sorted([101, 103, nova])
                r = await client.get("/projects/raw", headers=B)
                assert r.json() == [7001], r.text
        finally:
            await app_db.engine.dispose()
            async with owner.open_session() as session:
                await session.execute(text(f"DROP OWNED BY {role}"))
                await session.execute(text(f"DROP ROLE {role}"))
