"""Typed clients generated from the examples' OpenAPI documents drive the examples.

openapi-python-client generates each client into a temporary directory (with no warning), the
test imports it and runs full CRUD, a ``fields=`` list and an OR filter through the heroes
client, and a filtered, sorted, ``in``-filtered list and a hand-written page through the
tracker's, on every database. The generated client uses httpx; its async client is given a
transport to the ASGI app. The names a reader of the client meets are asserted too: a list's
page holds read-schema items, each filter is one parameter, ``__in`` takes a list of the
column's type, an enum filter takes the read schema's enum, a ``Page[OverdueTask]`` is an
``OverdueTaskPage``, and operation ids under ``APIRouter(prefix="/api/v1")`` keep the prefix out.
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from crudrouter_sqla.core import Database


def _generate(document: dict[str, Any], where: Path, package: str) -> str:
    spec = where / "openapi.json"
    spec.write_text(json.dumps(document))
    config = where / "config.yml"
    config.write_text("post_hooks: []\n")  # no ruff run over the generated code
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(spec),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(where / package),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.fixture
def example_app(db_url: str) -> Any:
    from examples.heroes import create_app

    return create_app(Database(db_url))


async def test_generated_client_drives_the_example(example_app, tmp_path, monkeypatch):
    package = f"heroes_client_{abs(hash(str(tmp_path))) % 10**8}"
    output = _generate(example_app.openapi(), tmp_path, package)
    assert "warning" not in output.lower(), output
    monkeypatch.syspath_prepend(str(tmp_path))
    client_module = importlib.import_module(package)
    api = importlib.import_module(f"{package}.api.heroes")
    models = importlib.import_module(f"{package}.models")
    teams = importlib.import_module(f"{package}.api.teams")

    def op(module: Any, name: str) -> Any:
        return importlib.import_module(f"{module.__name__}.{name}")

    async with LifespanManager(example_app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            client = client_module.Client(base_url="http://test")
            client.set_async_httpx_client(http)

            team = await op(teams, "create_team").asyncio(
                client=client, body=models.TeamCreate(name="Outsiders", headquarters="Gotham")
            )
            assert isinstance(team, models.TeamRead), team
            created = await op(api, "create_hero").asyncio_detailed(
                client=client,
                body=models.HeroCreate(
                    name="Black Lightning", secret_identity="Jefferson Pierce", age=45
                ),
            )
            assert created.status_code == 201, created.content
            hero = created.parsed
            assert isinstance(hero, models.HeroRead) and hero.age == 45

            got = await op(api, "get_hero").asyncio(client=client, item_id=hero.id)
            assert isinstance(got, models.HeroRead) and got.name == "Black Lightning"

            replaced = await op(api, "replace_hero").asyncio(
                client=client,
                item_id=hero.id,
                body=models.HeroCreate(name="Black Lightning", secret_identity="J. Pierce"),
            )
            assert isinstance(replaced, models.HeroRead) and replaced.age is None

            updated = await op(api, "update_hero").asyncio(
                client=client, item_id=hero.id, body=models.HeroUpdate(age=46)
            )
            assert isinstance(updated, models.HeroRead), updated
            assert (updated.age, updated.secret_identity) == (46, "J. Pierce")

            # fields=: items hold only those fields, and parse as the documented subset.
            page = await op(api, "list_heroes").asyncio(
                client=client, fields="id,name", sort="-id", limit=3
            )
            assert isinstance(page, models.HeroFieldsPage), page
            first = page.items[0]
            assert isinstance(first, models.HeroFields), first
            assert first.to_dict() == {"id": hero.id, "name": "Black Lightning"}

            # Without fields=, the page is a HeroPage of HeroRead items; tags.slug__in takes
            # a list (sent as a repeated parameter, which the route also reads).
            page = await op(api, "list_heroes").asyncio(
                client=client, tags_slug_in=["rich", "speed"], age_gte=20, sort="name"
            )
            assert isinstance(page, models.HeroPage), page
            assert all(isinstance(item, models.HeroRead) for item in page.items), page
            names = [item.name for item in page.items]
            assert names == ["Batman", "Flash", "Green Arrow"], names

            # An OR filter: the oldest heroes, or the one just changed.
            page = await op(api, "list_heroes").asyncio(
                client=client, or_="(age__gte=300,age__lte=20)", fields="name", limit=100
            )
            assert isinstance(page, models.HeroFieldsPage), page
            names = {item.to_dict()["name"] for item in page.items}
            assert {"Wonder Woman", "Martian Manhunter", "Shazam"} <= names, names
            assert "Batman" not in names

            deleted = await op(api, "delete_hero").asyncio_detailed(client=client, item_id=hero.id)
            assert deleted.status_code == 204
            missing = await op(api, "get_hero").asyncio_detailed(client=client, item_id=hero.id)
            assert missing.status_code == 404
            assert isinstance(missing.parsed, models.ErrorResponse)


def _parameter(function: Any, name: str) -> Any:
    """The annotation of one parameter of a generated function."""
    return inspect.signature(function).parameters[name].annotation


@pytest.fixture
def tracker_app(db_url: str) -> Any:
    from examples.tracker import create_app

    return create_app(Database(db_url))


async def test_generated_client_reads_well(tracker_app, tmp_path, monkeypatch):
    package = f"tracker_client_{abs(hash(str(tmp_path))) % 10**8}"
    output = _generate(tracker_app.openapi(), tmp_path, package)
    assert "warning" not in output.lower(), output
    monkeypatch.syspath_prepend(str(tmp_path))
    client_module = importlib.import_module(package)
    models = importlib.import_module(f"{package}.models")
    # Operation ids under APIRouter(prefix="/api/v1") keep the prefix out of the names.
    list_tasks = importlib.import_module(f"{package}.api.tasks.list_tasks")
    get_task = importlib.import_module(f"{package}.api.tasks.get_task")
    create_task = importlib.import_module(f"{package}.api.tasks.create_task")
    create_project = importlib.import_module(f"{package}.api.projects.create_project")
    overdue = importlib.import_module(f"{package}.api.default.list_overdue_tasks")

    # The page of a list without fields= holds read-schema items; fields= has a page of its own.
    assert str(models.TaskPage.__annotations__["items"]) == "list[TaskRead]"
    assert str(models.TaskFieldsPage.__annotations__["items"]) == "list[TaskFields]"
    # One parameter per filter: the bare name, no `status_eq` beside `status`.
    parameters = inspect.signature(list_tasks.asyncio).parameters
    assert "status" in parameters and "status_eq" not in parameters, list(parameters)
    assert "labels_name" in parameters and "labels_name_eq" not in parameters
    # An enum filter takes the read schema's enum; `__in` takes a list of it.
    unset = importlib.import_module(f"{package}.types").Unset
    assert _parameter(list_tasks.asyncio, "status") == None | models.Status | unset
    assert _parameter(list_tasks.asyncio, "status_in") == list[models.Status] | unset
    assert str(models.TaskRead.__annotations__["status"]) == "Status"
    assert not [name for name in dir(models) if name.startswith("ListTasksStatus")]
    # A hand-written Page[OverdueTask] is an OverdueTaskPage.
    assert hasattr(models, "OverdueTaskPage") and not hasattr(models, "PageOverdueTask")
    assert str(models.OverdueTaskPage.__annotations__["items"]) == "list[OverdueTask]"

    async with LifespanManager(tracker_app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"Authorization": "Bearer alice"}
        ) as http:
            client = client_module.AuthenticatedClient(base_url="http://test", token="alice")
            client.set_async_httpx_client(http)

            project = await create_project.asyncio(
                client=client, body=models.ProjectCreate(name="Rocket")
            )
            assert isinstance(project, models.ProjectRead), project
            long_ago = datetime.date(2000, 1, 1)
            for title, status, priority in (("a", "todo", 1), ("b", "doing", 5), ("c", "done", 3)):
                body = models.TaskCreate.from_dict(
                    {
                        "title": title,
                        "project_id": project.id,
                        "status": status,
                        "priority": priority,
                        "due": long_ago.isoformat(),
                    }
                )
                created = await create_task.asyncio(client=client, body=body)
                assert isinstance(created, models.TaskRead), created

            # Filtered, sorted and in-filtered, through typed parameters.
            page = await list_tasks.asyncio(
                client=client,
                status_in=[models.Status.TODO, models.Status.DOING],
                priority_gte=1,
                sort="-priority",
            )
            assert isinstance(page, models.TaskPage), page
            assert [task.title for task in page.items] == ["b", "a"]
            assert isinstance(page.items[0], models.TaskRead)
            assert page.items[0].status is models.Status.DOING

            page = await list_tasks.asyncio(client=client, status=models.Status.DONE)
            assert isinstance(page, models.TaskPage), page
            assert [task.title for task in page.items] == ["c"]

            got = await get_task.asyncio(client=client, item_id=page.items[0].id)
            assert isinstance(got, models.TaskRead) and got.title == "c"

            late = await overdue.asyncio(client=client)
            assert isinstance(late, models.OverdueTaskPage), late
            assert [task.title for task in late.items] == ["a", "b"]
            assert all(isinstance(task, models.OverdueTask) for task in late.items)
