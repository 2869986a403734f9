"""examples/tracker.py over HTTP, on SQLite, PostgreSQL and MariaDB: a multi-tenant project
tracker with no code around the router's gaps."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from crudrouter_sqla.core import Database
from examples import tracker

ALICE = {"authorization": "Bearer alice"}  # Acme
BOB = {"authorization": "Bearer bob"}  # Globex
API = "/api/v1"


@pytest.fixture
async def client(db_url, client_for):
    async with client_for(tracker.create_app(Database(db_url))) as client:
        yield client


async def _post(client: Any, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    r = await client.post(API + path, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_every_request_needs_a_known_token(client):
    assert (await client.get(f"{API}/tasks")).status_code in (401, 403)
    r = await client.get(f"{API}/tasks", headers={"authorization": "Bearer nobody"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


async def test_a_task_with_labels_is_stamped_and_stays_in_its_organization(client):
    project = await _post(client, "/projects", {"name": "Rocket"}, ALICE)
    label = await _post(client, "/labels", {"name": "urgent"}, ALICE)
    body = {"title": "Fuel", "project_id": project["id"], "labels": [label["id"]]}
    task = await _post(client, "/tasks", body, ALICE)
    users = (await client.get(f"{API}/users", headers=ALICE)).json()["items"]
    assert [u["name"] for u in users] == ["Alice", "Carol"]
    assert task["created_by"] == users[0]["id"]  # set by the router, never asked for
    # Another member's edit keeps the creator.
    carol = {"authorization": "Bearer carol"}
    r = await client.patch(f"{API}/tasks/{task['id']}", json={"title": "Refuel"}, headers=carol)
    assert r.status_code == 200 and r.json()["created_by"] == users[0]["id"], r.text
    assert (task["status"], task["priority"]) == ("todo", 3)  # the columns' defaults
    assert [t["name"] for t in task["labels"]] == ["urgent"]
    # Globex sees none of it, and cannot reach it through references or parents.
    assert (await client.get(f"{API}/tasks", headers=BOB)).json()["total"] == 0
    r = await client.get(f"{API}/tasks/{task['id']}", headers=BOB)
    assert r.status_code == 404
    theirs = await _post(client, "/labels", {"name": "secret"}, BOB)
    r = await client.post(f"{API}/tasks", json={**body, "labels": [theirs["id"]]}, headers=ALICE)
    unknown = await client.post(f"{API}/tasks", json={**body, "labels": [9999]}, headers=ALICE)
    assert r.status_code == unknown.status_code == 409
    assert r.json()["detail"] == f"labels: no Label has the id {theirs['id']}"
    r = await client.post(f"{API}/tasks/{task['id']}/comments", json={"body": "hi"}, headers=BOB)
    assert r.status_code == 404
    # The stamped and tenant columns are not the client's to send.
    r = await client.post(f"{API}/tasks", json={**body, "created_by": 99}, headers=ALICE)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "created_by"]
    r = await client.post(f"{API}/tasks", json={**body, "org_id": 2}, headers=ALICE)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "org_id"]


async def test_tasks_filter_sort_and_nest_under_their_project(client):
    project = await _post(client, "/projects", {"name": "Rocket"}, ALICE)
    for title, status, priority in (("a", "todo", 1), ("b", "doing", 5), ("c", "done", 3)):
        body = {"title": title, "status": status, "priority": priority}
        await _post(client, f"/projects/{project['id']}/tasks", body, ALICE)
    r = await client.get(
        f"{API}/tasks", params={"status__in": "todo,doing", "sort": "-priority"}, headers=ALICE
    )
    assert r.status_code == 200, r.text
    assert [t["title"] for t in r.json()["items"]] == ["b", "a"]
    r = await client.get(f"{API}/projects/{project['id']}/tasks", headers=ALICE)
    assert r.json()["total"] == 3
    r = await client.get(f"{API}/tasks", params={"q": "b"}, headers=ALICE)
    assert [t["title"] for t in r.json()["items"]] == ["b"]


async def test_overdue_tasks_are_the_organizations_open_ones(client):
    project = await _post(client, "/projects", {"name": "Rocket"}, ALICE)
    past = (datetime.date.today() - datetime.timedelta(days=3)).isoformat()
    for title, status in (("late", "todo"), ("shipped", "done")):
        body = {"title": title, "project_id": project["id"], "due": past, "status": status}
        await _post(client, "/tasks", body, ALICE)
    r = await client.get(f"{API}/overdue", headers=ALICE)
    assert r.status_code == 200, r.text
    assert [t["title"] for t in r.json()["items"]] == ["late"]
    assert (await client.get(f"{API}/overdue", headers=BOB)).json()["items"] == []


async def test_a_deleted_project_hides_its_tasks_until_restored(client):
    project = await _post(client, "/projects", {"name": "Rocket"}, ALICE)
    await _post(client, f"/projects/{project['id']}/tasks", {"title": "Fuel"}, ALICE)
    r = await client.delete(f"{API}/projects/{project['id']}", headers=ALICE)
    assert r.status_code == 204
    r = await client.get(f"{API}/projects/{project['id']}/tasks", headers=ALICE)
    assert r.status_code == 404
    r = await client.post(f"{API}/projects/{project['id']}/restore", headers=ALICE)
    assert r.status_code == 200, r.text
    r = await client.get(f"{API}/projects/{project['id']}/tasks", headers=ALICE)
    assert r.json()["total"] == 1


async def test_tasks_are_bulk_created_with_labels_and_projects_purged_by_admins(client):
    project = await _post(client, "/projects", {"name": "Rocket"}, ALICE)
    label = await _post(client, "/labels", {"name": "urgent"}, ALICE)
    body = [
        {"title": "Fuel", "project_id": project["id"], "labels": [label["id"]]},
        {"title": "Launch", "project_id": project["id"]},
    ]
    r = await client.post(f"{API}/tasks/bulk", json=body, headers=ALICE)
    assert r.status_code == 201, r.text
    assert [[lb["name"] for lb in t["labels"]] for t in r.json()] == [["urgent"], []]
    theirs = await _post(client, "/projects", {"name": "Moon"}, BOB)
    r = await client.delete(f"{API}/projects/{theirs['id']}/purge", headers=BOB)
    assert r.status_code == 403  # Bob is no admin
    r = await client.delete(f"{API}/projects/{theirs['id']}/purge", headers=ALICE)
    assert r.status_code == 404  # Alice's admin rights end at her organization
    r = await client.delete(f"{API}/projects/{project['id']}/purge", headers=ALICE)
    assert r.status_code == 204, r.text
    assert (await client.get(f"{API}/tasks", headers=ALICE)).json()["total"] == 0


def test_operation_ids_leave_the_version_prefix_out():
    document = tracker.create_app(Database("sqlite+aiosqlite://")).openapi()
    ids = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    assert {"list_tasks", "get_task", "create_task", "list_project_tasks"} <= ids
    assert not [i for i in ids if "api_v1" in i], sorted(ids)


def test_the_example_stays_short():
    """The whole app, models and schemas included, reads in one sitting."""
    lines = [line for line in Path(tracker.__file__).read_text().splitlines() if line.strip()]
    assert len(lines) <= 260, len(lines)
