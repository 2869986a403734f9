"""App builders the tests share."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from crudrouter_sqla import CRUDRouter
from crudrouter_sqla.core import Database
from tests.models import (
    Gadget,
    GadgetRead,
    Hero,
    HeroCreate,
    HeroRead,
    HeroUpdate,
    Tag,
    TagRead,
    Team,
    TeamRead,
)


def app_with(db: Database, *routers: CRUDRouter) -> FastAPI:
    """An app on ``db`` that includes ``routers``."""
    app = FastAPI(lifespan=db.lifespan)
    for router in routers:
        app.include_router(router)
    return app


def heroes_app(db: Database, **hero_options: Any) -> FastAPI:
    """Teams, heroes, tags and gadgets, each one CRUDRouter on ``db``."""
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    app.include_router(
        CRUDRouter(
            Hero, HeroRead, HeroCreate, update_schema=HeroUpdate, session=db.session, **hero_options
        )
    )
    app.include_router(CRUDRouter(Tag, TagRead, session=db.session))
    app.include_router(CRUDRouter(Gadget, GadgetRead, session=db.session))
    return app


async def seed_team(client: Any, name: str = "Justice League") -> int:
    r = await client.post("/teams", json={"name": name, "headquarters": "Watchtower"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def seed_hero(client: Any, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "secret_name": f"secret of {name}", **fields}
    r = await client.post("/heroes", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


ROSTER = [
    # name, secret_name, age, team index (None: no team)
    ("Batman", "Bruce Wayne", 40, 0),
    ("Batgirl", "Barbara Gordon", 25, 0),
    ("Superman", "Clark Kent", None, 0),
    ("Wonder Woman", "Diana Prince", 3000, 0),
    ("Robin", "Dick Grayson", 17, 1),
    ("Starfire", "Koriand'r", 22, 1),
]
"""Heroes of the Justice League (index 0) and the Titans (1), for `seed_roster`."""


async def seed_roster(client: Any, heroes: Any) -> list[int]:
    """The Justice League and the Titans, and ``heroes`` as (name, secret name, age, index of
    their team or None); the two teams' ids."""
    teams = [await seed_team(client, "Justice League"), await seed_team(client, "Titans")]
    for name, secret, age, team in heroes:
        body = {"name": name, "secret_name": secret, "age": age}
        body["team_id"] = None if team is None else teams[team]
        r = await client.post("/heroes", json=body)
        assert r.status_code == 201, r.text
    return teams


async def page_names(client: Any, path: str = "/heroes", **params: Any) -> list[str]:
    """The names on one page of up to 100 items, which must be all the matching rows."""
    r = await client.get(path, params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == len(page["items"]), page
    return [item["name"] for item in page["items"]]
