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
