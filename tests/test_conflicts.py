"""409 for every kind of integrity error, in words, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from tests.apps import heroes_app, seed_hero, seed_team
from tests.models import Hero, Team

SQL_WORDS = re.compile(
    r"\b(INSERT|UPDATE|DELETE|SELECT|VALUES|RETURNING|WHERE)\b|\$\d|\?|sqlite|asyncpg"
)


def assert_clean_409(r, *fragments: str, secret: str | None = None) -> None:
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str), r.text
    for fragment in fragments:
        assert fragment in detail, (fragment, detail)
    assert not SQL_WORDS.search(detail), detail
    if secret is not None:
        assert secret not in r.text


async def count(db, model) -> int:
    async with db.open_session() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_unique_violation_on_create_names_the_column(db, client_for):
    async with client_for(heroes_app(db)) as client:
        await seed_hero(client, "Batman", secret_name="Bruce Wayne")
        r = await client.post("/heroes", json={"name": "Batman", "secret_name": "Someone else"})
        assert_clean_409(r, "Unique constraint", "name", secret="Bruce Wayne")
        assert "Batman" not in r.json()["detail"]
    assert await count(db, Hero) == 1


async def test_unique_violation_on_put_and_patch(db, client_for):
    async with client_for(heroes_app(db)) as client:
        await seed_hero(client, "Batman")
        robin = await seed_hero(client, "Robin")
        r = await client.patch(f"/heroes/{robin['id']}", json={"name": "Batman"})
        assert_clean_409(r, "Unique constraint", "name")
        r = await client.put(f"/heroes/{robin['id']}", json={"name": "Batman", "secret_name": "x"})
        assert_clean_409(r, "Unique constraint", "name")
        r = await client.get(f"/heroes/{robin['id']}")
        assert r.json() == robin


async def test_foreign_key_violation_on_create_and_patch(db, client_for):
    async with client_for(heroes_app(db)) as client:
        r = await client.post(
            "/heroes", json={"name": "Cyborg", "secret_name": "V", "team_id": 999}
        )
        assert_clean_409(r, "Foreign key constraint", "team_id")
        hero = await seed_hero(client, "Cyborg")
        r = await client.patch(f"/heroes/{hero['id']}", json={"team_id": 424242})
        assert_clean_409(r, "Foreign key constraint", "team_id")
        assert (await client.get(f"/heroes/{hero['id']}")).json()["team_id"] is None
    assert await count(db, Hero) == 1


async def test_deleting_a_referenced_row_is_409(db, client_for):
    async with client_for(heroes_app(db)) as client:
        team_id = await seed_team(client)
        await seed_hero(client, "Flash", team_id=team_id)
        r = await client.delete(f"/teams/{team_id}")
        assert_clean_409(r, "Foreign key constraint", "still referenced")
        assert (await client.get(f"/teams/{team_id}")).status_code == 200
    assert await count(db, Team) == 1


async def test_check_violation_names_the_constraint(db, client_for):
    async with client_for(heroes_app(db)) as client:
        r = await client.post("/heroes", json={"name": "Shazam", "secret_name": "Billy", "age": -1})
        assert_clean_409(r, "Check constraint", "ck_heroes_age_nonnegative")
        hero = await seed_hero(client, "Shazam", age=10)
        r = await client.patch(f"/heroes/{hero['id']}", json={"age": -5})
        assert_clean_409(r, "Check constraint")
        assert (await client.get(f"/heroes/{hero['id']}")).json()["age"] == 10


async def test_not_null_violation_names_the_column(db, client_for):
    from pydantic import BaseModel

    from crudrouter_sqla import CRUDRouter
    from tests.models import HeroRead

    class LooseCreate(BaseModel):
        name: str | None = None
        secret_name: str | None = None

    app = heroes_app(db)
    app.include_router(CRUDRouter(Hero, HeroRead, LooseCreate, prefix="/loose", session=db.session))
    async with client_for(app) as client:
        r = await client.post("/loose", json={"name": "Hawkgirl", "secret_name": None})
        assert_clean_409(r, "Not null constraint", "secret_name")
    assert await count(db, Hero) == 0


async def test_values_the_column_cannot_hold_are_422_not_500(db, client_for):
    async with client_for(heroes_app(db)) as client:
        r = await client.post("/heroes", json={"name": "Big", "secret_name": "x", "age": 2**70})
        assert r.status_code == 422, r.text
        r = await client.post("/heroes", json={"name": "Big", "secret_name": "x", "age": 2**40})
        assert r.status_code in (201, 422), r.text
        r = await client.post("/heroes", json={"name": "Nul\u0000", "secret_name": "x"})
        assert r.status_code in (201, 422), r.text
