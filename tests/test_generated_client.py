"""A typed client generated from the example's OpenAPI document drives the example.

openapi-python-client generates the client into a temporary directory (with no warning), the
test imports it and runs full CRUD, a ``fields=`` list and an OR filter through it, on SQLite
and PostgreSQL. The generated client uses httpx; its async client is given a transport to the
ASGI app.
"""

from __future__ import annotations

import importlib
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
            assert isinstance(page, models.HeroPage), page
            first = page.items[0]
            assert first.to_dict() == {"id": hero.id, "name": "Black Lightning"}

            # An OR filter: the oldest heroes, or the one just changed.
            page = await op(api, "list_heroes").asyncio(
                client=client, or_="(age__gte=300,age__lte=20)", fields="name", limit=100
            )
            assert isinstance(page, models.HeroPage), page
            names = {item.to_dict()["name"] for item in page.items}
            assert {"Wonder Woman", "Martian Manhunter", "Shazam"} <= names, names
            assert "Batman" not in names

            deleted = await op(api, "delete_hero").asyncio_detailed(client=client, item_id=hero.id)
            assert deleted.status_code == 204
            missing = await op(api, "get_hero").asyncio_detailed(client=client, item_id=hero.id)
            assert missing.status_code == 404
            assert isinstance(missing.parsed, models.ErrorResponse)
