"""The six routes over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from tests.apps import heroes_app, seed_hero, seed_team
from tests.models import Hero


async def test_create_returns_201_and_the_row(db, client_for):
    async with client_for(heroes_app(db)) as client:
        team_id = await seed_team(client)
        r = await client.post(
            "/heroes",
            json={"name": "Batman", "secret_name": "Bruce Wayne", "age": 40, "team_id": team_id},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body == {
            "id": body["id"],
            "name": "Batman",
            "secret_name": "Bruce Wayne",
            "age": 40,
            "team_id": team_id,
        }
        r = await client.get(f"/heroes/{body['id']}")
        assert r.status_code == 200, r.text
        assert r.json() == body


async def test_client_cannot_set_the_primary_key_or_undeclared_columns(db, client_for):
    async with client_for(heroes_app(db)) as client:
        r = await client.post(
            "/heroes", json={"id": 999, "name": "Flash", "secret_name": "Barry", "extra": 1}
        )
        assert r.status_code == 201, r.text
        assert r.json()["id"] != 999
        # The derived create schema of teams refuses fields it does not have, naming them.
        r = await client.post("/teams", json={"id": 77, "name": "T", "headquarters": "H"})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "id"]
        r = await client.post("/teams", json={"name": "T", "headquarters": "H"})
        assert r.status_code == 201, r.text


async def test_get_missing_is_404_naming_resource_and_id(db, client_for):
    async with client_for(heroes_app(db)) as client:
        for method in ("GET", "DELETE"):
            r = await client.request(method, "/heroes/12345")
            assert r.status_code == 404, r.text
            assert r.json() == {"detail": "Hero 12345 not found"}
        r = await client.put("/heroes/12345", json={"name": "X", "secret_name": "Y"})
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Hero 12345 not found"}
        r = await client.patch("/heroes/12345", json={"age": 3})
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": "Hero 12345 not found"}
        r = await client.patch("/heroes/12345", json={})
        assert r.status_code == 404, r.text


async def test_malformed_and_out_of_range_ids_are_422(db, client_for):
    async with client_for(heroes_app(db)) as client:
        for path in ("/heroes/abc", "/heroes/1.5", f"/heroes/{2**31}", f"/heroes/{2**70}"):
            r = await client.get(path)
            assert r.status_code == 422, (path, r.text)
            assert r.json()["detail"][0]["loc"] == ["path", "item_id"], r.text
        r = await client.get("/gadgets/not-a-uuid")
        assert r.status_code == 422, r.text
        r = await client.get("/tags/" + "x" * 21)
        assert r.status_code == 422, r.text


async def test_put_replaces_every_field(db, client_for):
    async with client_for(heroes_app(db)) as client:
        hero = await seed_hero(client, "Superman", age=35)
        r = await client.put(f"/heroes/{hero['id']}", json={"name": "Clark", "secret_name": "K"})
        assert r.status_code == 200, r.text
        # age and team_id are not sent: a full replace sets them to the schema default (null).
        assert r.json() == {
            "id": hero["id"],
            "name": "Clark",
            "secret_name": "K",
            "age": None,
            "team_id": None,
        }
        r = await client.put(f"/heroes/{hero['id']}", json={"name": "Only name"})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "secret_name"]


async def test_patch_changes_only_fields_sent_and_null_sets_null(db, client_for):
    async with client_for(heroes_app(db)) as client:
        team_id = await seed_team(client)
        hero = await seed_hero(client, "Wonder Woman", age=30, team_id=team_id)
        r = await client.patch(f"/heroes/{hero['id']}", json={"age": 31})
        assert r.status_code == 200, r.text
        assert r.json() == {**hero, "age": 31}
        r = await client.patch(f"/heroes/{hero['id']}", json={"team_id": None})
        assert r.status_code == 200, r.text
        assert r.json() == {**hero, "age": 31, "team_id": None}
        r = await client.get(f"/heroes/{hero['id']}")
        assert r.json() == {**hero, "age": 31, "team_id": None}
        r = await client.patch(f"/heroes/{hero['id']}", json={})
        assert r.status_code == 200, r.text
        assert r.json() == {**hero, "age": 31, "team_id": None}


async def test_derived_update_schema_refuses_null_for_required_fields(db, client_for):
    async with client_for(heroes_app(db)) as client:
        r = await client.post("/teams", json={"name": "Avengers", "headquarters": "NY"})
        team = r.json()
        r = await client.patch(f"/teams/{team['id']}", json={"name": None})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "name"]
        r = await client.patch(f"/teams/{team['id']}", json={"headquarters": "Stark Tower"})
        assert r.status_code == 200, r.text
        assert r.json() == {**team, "headquarters": "Stark Tower"}


async def test_delete_is_204_with_empty_body(db, client_for):
    async with client_for(heroes_app(db)) as client:
        hero = await seed_hero(client, "Aquaman")
        r = await client.delete(f"/heroes/{hero['id']}")
        assert r.status_code == 204, r.text
        assert r.content == b""
        r = await client.get(f"/heroes/{hero['id']}")
        assert r.status_code == 404
        r = await client.delete(f"/heroes/{hero['id']}")
        assert r.status_code == 404


async def test_string_primary_key_chosen_by_client(db, client_for):
    async with client_for(heroes_app(db)) as client:
        r = await client.post("/tags", json={"code": "dc", "label": "DC Comics"})
        assert r.status_code == 201, r.text
        assert r.json() == {"code": "dc", "label": "DC Comics"}
        r = await client.get("/tags/dc")
        assert r.json() == {"code": "dc", "label": "DC Comics"}
        r = await client.put("/tags/dc", json={"code": "dc", "label": "DC"})
        assert r.status_code == 200, r.text
        r = await client.put("/tags/dc", json={"code": "marvel", "label": "DC"})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "code"]
        r = await client.patch("/tags/dc", json={"label": "D.C."})
        assert r.json() == {"code": "dc", "label": "D.C."}
        r = await client.post("/tags", json={"code": "dc", "label": "again"})
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith("Unique constraint violated")
        assert (await client.delete("/tags/dc")).status_code == 204
        assert (await client.get("/tags/dc")).status_code == 404


async def test_uuid_primary_key(db, client_for):
    async with client_for(heroes_app(db)) as client:
        r = await client.post("/gadgets", json={"name": "Batarang"})
        assert r.status_code == 201, r.text
        gadget_id = r.json()["id"]
        assert uuid.UUID(gadget_id)
        r = await client.get(f"/gadgets/{gadget_id}")
        assert r.json() == {"id": gadget_id, "name": "Batarang"}
        r = await client.get(f"/gadgets/{uuid.uuid4()}")
        assert r.status_code == 404
        r = await client.patch(f"/gadgets/{gadget_id}", json={"name": "Grapple"})
        assert r.json() == {"id": gadget_id, "name": "Grapple"}
        assert (await client.delete(f"/gadgets/{gadget_id}")).status_code == 204


async def test_failed_write_leaves_nothing_behind(db, client_for):
    async with client_for(heroes_app(db)) as client:
        await seed_hero(client, "Flash")
        r = await client.post("/heroes", json={"name": "Flash", "secret_name": "Wally"})
        assert r.status_code == 409
    async with db.open_session() as session:
        count = (await session.execute(select(func.count()).select_from(Hero))).scalar_one()
        names = (await session.execute(select(Hero.secret_name))).scalars().all()
    assert count == 1
    assert names == ["secret of Flash"]
