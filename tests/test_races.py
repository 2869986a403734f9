"""Races on PostgreSQL: many requests at once, each in its own transaction on its own connection.

The database's constraints decide every conflict, so racing requests end the way some serial
order of them would: one winner and clean 409s, never a 500, never a duplicate row.

The requests truly overlap: the pool has a connection for each of them, and every test checks
that many connections were checked out at once.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from crudrouter_sqla.core import Database
from tests.apps import heroes_app, seed_hero, seed_team
from tests.models import Base, Hero, Team

pytestmark = [pytest.mark.postgres_only, pytest.mark.parametrize("backend", ["postgresql"])]

CONCURRENCY = 50


class PeakConnections:
    """Counts the connections checked out of a pool at the same time."""

    def __init__(self, db: Database) -> None:
        self.now = 0
        self.peak = 0
        pool = db.engine.sync_engine
        event.listen(pool, "checkout", self._checkout)
        event.listen(pool, "checkin", self._checkin)

    def _checkout(self, *_: Any) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def _checkin(self, *_: Any) -> None:
        self.now -= 1

    def reset(self) -> None:
        self.peak = self.now


@pytest.fixture
async def race_db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url, pool_size=CONCURRENCY + 5, max_overflow=0, pool_timeout=30)
    await database.create_all(Base.metadata)
    try:
        yield database
    finally:
        await database.engine.dispose()


@pytest.fixture
async def client(race_db: Database, client_for: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(heroes_app(race_db), raise_app_exceptions=False) as client:
        yield client


@pytest.fixture
def peak(race_db: Database) -> PeakConnections:
    return PeakConnections(race_db)


async def count(db: Database, *where: Any, model: Any = Hero) -> int:
    async with db.open_session() as session:
        statement = select(func.count()).select_from(model).where(*where)
        return (await session.execute(statement)).scalar_one()


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


async def test_concurrent_creates_of_one_unique_name(race_db, client, peak):
    body = {"name": "Blue Beetle", "secret_name": "Jaime Reyes"}
    peak.reset()
    rs = await asyncio.gather(*[client.post("/heroes", json=body) for _ in range(CONCURRENCY)])
    assert statuses(rs) == {201: 1, 409: CONCURRENCY - 1}, [r.text for r in rs if r.is_error]
    for r in rs:
        if r.status_code == 409:
            assert "Unique constraint" in r.json()["detail"], r.text
    assert await count(race_db, Hero.name == "Blue Beetle") == 1
    assert await count(race_db) == 1
    assert peak.peak >= CONCURRENCY // 2, f"requests did not overlap: peak {peak.peak}"


async def test_concurrent_creates_of_distinct_names_all_succeed(race_db, client, peak):
    peak.reset()
    rs = await asyncio.gather(
        *[
            client.post("/heroes", json={"name": f"Hero {i}", "secret_name": "s"})
            for i in range(CONCURRENCY)
        ]
    )
    assert statuses(rs) == {201: CONCURRENCY}, [r.text for r in rs if r.is_error]
    assert len({r.json()["id"] for r in rs}) == CONCURRENCY
    assert await count(race_db) == CONCURRENCY
    assert peak.peak >= CONCURRENCY // 2, f"requests did not overlap: peak {peak.peak}"


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_concurrent_renames_onto_one_unique_name(race_db, client, peak, method):
    heroes = [await seed_hero(client, f"Titan {i}") for i in range(20)]
    peak.reset()
    rs = await asyncio.gather(
        *[
            client.request(
                method,
                f"/heroes/{hero['id']}",
                json={"name": "Nightwing", "secret_name": hero["secret_name"]},
            )
            for hero in heroes
        ]
    )
    assert statuses(rs) == {200: 1, 409: 19}, [r.text for r in rs if r.is_error]
    winner = next(r.json() for r in rs if r.status_code == 200)
    assert await count(race_db, Hero.name == "Nightwing") == 1
    async with race_db.open_session() as session:
        names = {id_: name for id_, name in await session.execute(select(Hero.id, Hero.name))}
    for hero in heroes:
        expected = "Nightwing" if hero["id"] == winner["id"] else hero["name"]
        assert names[hero["id"]] == expected
    assert peak.peak >= 10, f"requests did not overlap: peak {peak.peak}"


async def test_concurrent_delete_and_update_of_one_row(race_db, client, peak):
    """Each round races a DELETE and a PATCH (launched in alternating order) on a new row.

    The serial outcomes: PATCH then DELETE (200, 204) or DELETE then PATCH (204, 404); the row
    is gone either way."""
    outcomes: Counter[tuple[int, int]] = Counter()
    peak.reset()
    for round_ in range(30):
        hero = await seed_hero(client, f"Round {round_}")
        url = f"/heroes/{hero['id']}"
        patch = client.patch(url, json={"age": round_})
        delete = client.delete(url)
        if round_ % 2:
            delete_r, patch_r = await asyncio.gather(delete, patch)
        else:
            patch_r, delete_r = await asyncio.gather(patch, delete)
        outcome = (patch_r.status_code, delete_r.status_code)
        assert outcome in {(200, 204), (404, 204)}, (outcome, patch_r.text, delete_r.text)
        if patch_r.status_code == 200:
            assert patch_r.json() == {**hero, "age": round_}
        else:
            assert patch_r.json() == {"detail": f"Hero {hero['id']} not found"}
        outcomes[outcome] += 1
        assert (await client.get(url)).status_code == 404
    assert await count(race_db) == 0
    assert peak.peak >= 2, f"requests did not overlap: peak {peak.peak}"
    print(f"\ndelete/patch outcomes over 30 rounds: {dict(outcomes)}")


async def test_concurrent_delete_and_replace_of_one_row(race_db, client):
    for round_ in range(15):
        hero = await seed_hero(client, f"Round {round_}")
        url = f"/heroes/{hero['id']}"
        put_r, delete_r = await asyncio.gather(
            client.put(url, json={"name": f"Put {round_}", "secret_name": "p"}),
            client.delete(url),
        )
        outcome = (put_r.status_code, delete_r.status_code)
        assert outcome in {(200, 204), (404, 204)}, (outcome, put_r.text, delete_r.text)
    assert await count(race_db) == 0


async def test_deleting_a_team_while_heroes_join_it(race_db, client):
    """A team deleted while a hero is created on it: either the hero is created and the delete
    is refused (still referenced), or the team is deleted and the create is refused (no such
    team). Never both, never a hero pointing at a missing team."""
    outcomes: Counter[tuple[int, int]] = Counter()
    for round_ in range(20):
        team_id = await seed_team(client, f"Team {round_}")
        create = client.post(
            "/heroes", json={"name": f"Joiner {round_}", "secret_name": "j", "team_id": team_id}
        )
        delete = client.delete(f"/teams/{team_id}")
        if round_ % 2:
            delete_r, create_r = await asyncio.gather(delete, create)
        else:
            create_r, delete_r = await asyncio.gather(create, delete)
        outcome = (create_r.status_code, delete_r.status_code)
        assert outcome in {(201, 409), (409, 204)}, (outcome, create_r.text, delete_r.text)
        outcomes[outcome] += 1
        team_left = await count(race_db, Team.id == team_id, model=Team)
        heroes_on_team = await count(race_db, Hero.team_id == team_id)
        assert (team_left, heroes_on_team) == ((1, 1) if outcome == (201, 409) else (0, 0))
    print(f"\ncreate/delete outcomes over 20 rounds: {dict(outcomes)}")


async def test_concurrent_updates_of_one_row_all_apply_in_some_order(race_db, client, peak):
    hero = await seed_hero(client, "Metamorpho", age=1)
    url = f"/heroes/{hero['id']}"
    peak.reset()
    rs = await asyncio.gather(*[client.patch(url, json={"age": age}) for age in range(20)])
    assert statuses(rs) == {200: 20}, [r.text for r in rs if r.is_error]
    # Each response shows its own write; the row keeps the last one committed.
    assert sorted(r.json()["age"] for r in rs) == list(range(20))
    final = (await client.get(url)).json()
    assert final["age"] in range(20)
    assert peak.peak >= 5, f"requests did not overlap: peak {peak.peak}"
