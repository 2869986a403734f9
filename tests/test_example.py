"""examples/heroes.py over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib

import pytest

from crudrouter_sqla.core import Database
from examples import heroes

SEEDED = [name for name, _identity, _age, _team in heroes.HEROES]


# The fixtures of crudrouter_sqla.testing, as a user would set them up for this example.
@pytest.fixture
def database_url(server_url):
    return server_url


@pytest.fixture
def app(database):
    return heroes.create_app(database)


async def hero_ids(client) -> dict[str, int]:
    r = await client.get("/heroes", params={"limit": 100})
    assert r.status_code == 200, r.text
    return {hero["name"]: hero["id"] for hero in r.json()["items"]}


async def test_first_start_seeds_twelve_heroes_and_two_teams(db_url, client_for):
    async with client_for(heroes.create_app(Database(db_url))) as client:
        r = await client.get("/heroes")
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["total"] == 12
        assert (page["limit"], page["offset"]) == (20, 0)
        assert [hero["name"] for hero in page["items"]] == SEEDED
        r = await client.get("/teams")
        assert r.status_code == 200, r.text
        teams = {team["name"]: team for team in r.json()["items"]}
        assert teams.keys() == {"Justice League", "Teen Titans"}
        by_name = {hero["name"]: hero for hero in page["items"]}
        assert by_name["Batman"]["secret_identity"] == "Bruce Wayne"
        assert by_name["Batman"]["team_id"] == teams["Justice League"]["id"]
        assert by_name["Cyborg"]["team_id"] == teams["Teen Titans"]["id"]
        assert by_name["Martian Manhunter"]["secret_identity"] == "J'onn J'onzz"


async def test_pagination(db_url, client_for):
    async with client_for(heroes.create_app(Database(db_url))) as client:
        r = await client.get("/heroes", params={"limit": 5, "offset": 10})
        assert r.status_code == 200, r.text
        page = r.json()
        assert [hero["name"] for hero in page["items"]] == ["Shazam", "Green Lantern"]
        assert (page["total"], page["limit"], page["offset"]) == (12, 5, 10)
        r = await client.get("/heroes", params={"limit": 5, "offset": 12})
        assert r.status_code == 200, r.text
        assert r.json()["items"] == []
        r = await client.get("/heroes", params={"limit": 0})
        assert r.status_code == 422, r.text


async def test_filters_sort_and_search(db_url, client_for):
    async with client_for(heroes.create_app(Database(db_url))) as client:
        r = await client.get("/heroes", params={"age__gte": 40, "sort": "-age"})
        assert r.status_code == 200, r.text
        names = [hero["name"] for hero in r.json()["items"]]
        assert names == ["Wonder Woman", "Martian Manhunter", "Batman"]
        r = await client.get("/teams", params={"name": "Teen Titans"})
        assert r.status_code == 422, r.text  # the teams router allows no filters
        r = await client.get("/heroes", params={"q": "QUEEN", "fields": "name"})
        assert r.status_code == 200, r.text
        assert r.json()["items"] == [{"name": "Green Arrow"}]
        r = await client.get("/heroes", params={"team_id__isnull": True})
        assert r.json()["total"] == 0
        r = await client.get("/heroes", params={"secret_identity": "Hal Jordan"})
        assert r.status_code == 422, r.text


async def test_get_create_patch_delete(db_url, client_for):
    async with client_for(heroes.create_app(Database(db_url))) as client:
        ids = await hero_ids(client)
        r = await client.get(f"/heroes/{ids['Wonder Woman']}")
        assert r.status_code == 200, r.text
        assert r.json()["secret_identity"] == "Diana Prince"

        r = await client.post("/heroes", json={"name": "Nightwing", "secret_identity": "Dick"})
        assert r.status_code == 201, r.text
        nightwing = r.json()
        assert nightwing == {
            "id": nightwing["id"],
            "name": "Nightwing",
            "secret_identity": "Dick",
            "age": None,
            "team_id": None,
            "team": None,
            "tags": [],
        }
        r = await client.post("/heroes", json={"name": "Batman", "secret_identity": "Jason Todd"})
        assert r.status_code == 409, r.text
        assert r.json() == {
            "detail": "Unique constraint violated: another row already has this name"
        }

        r = await client.patch(
            f"/heroes/{nightwing['id']}", json={"secret_identity": "Dick Grayson", "age": 24}
        )
        assert r.status_code == 200, r.text
        assert r.json() == {**nightwing, "secret_identity": "Dick Grayson", "age": 24}
        r = await client.patch(f"/heroes/{nightwing['id']}", json={"name": None})
        assert r.status_code == 422, r.text
        r = await client.patch(f"/heroes/{nightwing['id']}", json={"team_id": 10_000})
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith("Foreign key constraint violated"), r.text

        r = await client.delete(f"/heroes/{nightwing['id']}")
        assert r.status_code == 204, r.text
        r = await client.get(f"/heroes/{nightwing['id']}")
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": f"Hero {nightwing['id']} not found"}


async def test_a_team_with_heroes_cannot_be_deleted(db_url, client_for):
    async with client_for(heroes.create_app(Database(db_url))) as client:
        r = await client.get("/teams")
        team_id = r.json()["items"][0]["id"]
        r = await client.delete(f"/teams/{team_id}")
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith("Foreign key constraint violated"), r.text
        r = await client.get(f"/teams/{team_id}")
        assert r.status_code == 200, r.text


async def test_a_second_start_does_not_seed_again(db_url, client_for):
    async with client_for(heroes.create_app(Database(db_url))) as client:
        r = await client.post("/heroes", json={"name": "Zatanna", "secret_identity": "Zatanna"})
        assert r.status_code == 201, r.text
    async with client_for(heroes.create_app(Database(db_url))) as client:
        r = await client.get("/heroes", params={"limit": 100})
        assert r.status_code == 200, r.text
        assert r.json()["total"] == 13
        assert [hero["name"] for hero in r.json()["items"]] == [*SEEDED, "Zatanna"]
        r = await client.get("/teams")
        assert r.json()["total"] == 2


async def test_heroes_are_seeded_again_once_all_are_deleted(db_url, client_for):
    async with client_for(heroes.create_app(Database(db_url))) as client:
        for hero_id in (await hero_ids(client)).values():
            r = await client.delete(f"/heroes/{hero_id}")
            assert r.status_code == 204, r.text
    async with client_for(heroes.create_app(Database(db_url))) as client:
        assert list(await hero_ids(client)) == SEEDED
        r = await client.get("/teams")
        assert r.json()["total"] == 2


@pytest.fixture
def reloaded(monkeypatch):
    """Import the example afresh after the test has set the environment; restore it after."""
    yield lambda: importlib.reload(heroes)
    monkeypatch.undo()
    importlib.reload(heroes)


async def test_module_app_reads_the_url_from_the_environment(
    db_url, client_for, monkeypatch, reloaded
):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SQLALCHEMY_URL", db_url)
    module = reloaded()
    assert module.db.url.render_as_string(hide_password=False) == db_url
    async with client_for(module.app) as client:
        r = await client.get("/openapi.json")
        assert r.status_code == 200, r.text
        assert r.json()["info"]["title"] == "Heroes"
        assert list(await hero_ids(client)) == SEEDED


async def test_with_the_testing_plugin(client, database):
    r = await client.get("/heroes", params={"offset": 5, "limit": 5})
    assert r.status_code == 200, r.text
    r = await client.post("/heroes", json={"name": "Raven", "secret_identity": "Rachel Roth"})
    assert r.status_code == 201, r.text
    async with database.open_session() as session:
        assert await session.get(heroes.Hero, r.json()["id"]) is not None
    r = await client.get("/heroes", params={"limit": 100})
    assert r.json()["total"] == 13, r.text


async def test_each_test_gets_a_fresh_database(client):
    r = await client.get("/heroes", params={"limit": 100})
    assert r.json()["total"] == 12, r.text


async def test_heroes_embed_their_team_and_tags(db_url, client_for):
    async with client_for(heroes.create_app(Database(db_url))) as client:
        ids = await hero_ids(client)
        r = await client.get(f"/heroes/{ids['Superman']}")
        body = r.json()
        assert body["team"]["name"] == "Justice League", r.text
        assert [t["slug"] for t in body["tags"]] == ["flying", "strong"]
        r = await client.get("/heroes", params={"team.name__ilike": "titans"})
        assert [h["name"] for h in r.json()["items"]] == ["Cyborg"], r.text
        r = await client.get("/heroes", params={"tags.slug__in": "rich,speed", "sort": "name"})
        names = [h["name"] for h in r.json()["items"]]
        assert names == ["Batman", "Flash", "Green Arrow", "Shazam"], r.text
        r = await client.get("/heroes", params={"sort": "-team.name,name", "limit": 1})
        assert r.json()["items"][0]["name"] == "Cyborg", r.text
        r = await client.post(
            "/heroes", json={"name": "Robin", "secret_identity": "Tim", "tags": ["rich"]}
        )
        assert r.status_code == 201, r.text
        assert [t["slug"] for t in r.json()["tags"]] == ["rich"]
        team = body["team"]["id"]
        r = await client.get(f"/teams/{team}/heroes", params={"limit": 100})
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) == 11
        r = await client.post(
            f"/teams/{team}/heroes", json={"name": "Nightwing", "secret_identity": "Dick"}
        )
        assert r.status_code == 201, r.text
        assert r.json()["team"]["id"] == team
