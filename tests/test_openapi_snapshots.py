"""The OpenAPI documents of the example app and of a 200-router app, against the documents
they served before start-up work changed how routes are built: start-up may get faster, the
document may not change. Normalised for key order only.

After a change meant to alter the document, write the snapshots again and review the diff::

    .venv/bin/python -m tests.test_openapi_snapshots
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from crudrouter_sqla.core import Database

DATA = Path(__file__).parent / "data"
HEROES = DATA / "openapi-heroes.json"
THINGS = DATA / "openapi-200-things.sha256"
VERSIONS = DATA / "openapi-versions.txt"
MODELS = 200


def _versions() -> str:
    """The libraries that write the document: another version may word it otherwise."""
    return "".join(f"{name} {version(name)}\n" for name in ("fastapi", "pydantic"))


@pytest.fixture(autouse=True)
def _same_libraries() -> None:
    if VERSIONS.read_text(encoding="utf-8") != _versions():
        pytest.skip(
            f"snapshots written with {VERSIONS.read_text().split()}, not {_versions().split()}"
        )


def _normalised(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, indent=1)


def heroes_document() -> str:
    from examples import heroes

    return _normalised(heroes.create_app(Database("sqlite+aiosqlite://")).openapi())


def things_document() -> str:
    from benchmarks.startup import build_crud, define_models

    app = build_crud(define_models(MODELS), Database("sqlite+aiosqlite://"))
    return _normalised(app.openapi())


def _digest(text: str) -> str:
    return f"{hashlib.sha256(text.encode()).hexdigest()} {len(text)}\n"


def test_the_example_serves_the_same_document():
    assert heroes_document() == HEROES.read_text(encoding="utf-8")


def test_an_app_of_200_routers_serves_the_same_document():
    assert _digest(things_document()) == THINGS.read_text(encoding="utf-8")


def write() -> None:
    DATA.mkdir(exist_ok=True)
    HEROES.write_text(heroes_document(), encoding="utf-8")
    THINGS.write_text(_digest(things_document()), encoding="utf-8")
    VERSIONS.write_text(_versions(), encoding="utf-8")


if __name__ == "__main__":
    write()
