"""The list route's query language over HTTP, on SQLite and PostgreSQL."""

import pytest
from fastapi import FastAPI
from sqlalchemy import event

from crudrouter_sqla import ConfigurationError, CRUDRouter
from tests.apps import ROSTER, page_names, seed_roster
from tests.models import Hero, HeroCreate, HeroRead, Team, TeamRead

HEROES = [
    *ROSTER,
    ("100%_Real", "Percent Under", 30, None),
    ("1000 Real", "Not Percent", None, None),
]


def query_app(db, **options):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    defaults = dict(
        filter_fields={
            "name": "*",
            "age": ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "isnull"],
            "team_id": ["eq", "in", "not_in", "isnull"],
            "secret_name": ["startswith", "endswith", "contains", "like", "ilike"],
        },
        search_fields=["name", "secret_name"],
    )
    app.include_router(
        CRUDRouter(Hero, HeroRead, HeroCreate, session=db.session, **{**defaults, **options})
    )
    return app


@pytest.fixture
async def client(db, client_for):
    async with client_for(query_app(db)) as client:
        client.teams = await seed_roster(client, HEROES)
        yield client


async def names(client, **params):
    return await page_names(client, **params)


async def test_comparison_operators(client):
    assert await names(client, age__gte=30) == ["Batman", "Wonder Woman", "100%_Real"]
    assert await names(client, age__gt=30) == ["Batman", "Wonder Woman"]
    assert await names(client, age__lt=22) == ["Robin"]
    assert await names(client, age__lte=22) == ["Robin", "Starfire"]
    assert await names(client, age=40) == ["Batman"]
    assert await names(client, age__eq=40) == ["Batman"]
    # ne keeps rows whose value is null: they differ from 40 too.
    assert "Superman" in await names(client, age__ne=40)
    assert "Batman" not in await names(client, age__ne=40)


async def test_in_not_in_and_isnull(client):
    league, titans = client.teams
    assert await names(client, age__in="17,22") == ["Robin", "Starfire"]
    assert await names(client, team_id__in=f"{titans}") == ["Robin", "Starfire"]
    assert len(await names(client, team_id__not_in=f"{league}")) == 2
    assert await names(client, age__isnull="true") == ["Superman", "1000 Real"]
    assert len(await names(client, age__isnull="false")) == 6
    assert await names(client, team_id__isnull=True) == ["100%_Real", "1000 Real"]


async def test_text_operators_match_literally_and_by_case(client):
    assert await names(client, name__startswith="Bat") == ["Batman", "Batgirl"]
    assert await names(client, name__startswith="bat") == []
    assert await names(client, name__ilike="bat") == ["Batman", "Batgirl"]
    assert await names(client, name__like="man") == ["Batman", "Superman", "Wonder Woman"]
    assert await names(client, name__like="Man") == []
    assert await names(client, name__contains="oma") == ["Wonder Woman"]
    assert await names(client, name__endswith="girl") == ["Batgirl"]
    # % and _ are not wildcards.
    assert await names(client, name__contains="0%_") == ["100%_Real"]
    assert await names(client, name__startswith="100%") == ["100%_Real"]
    assert await names(client, name__ilike="%") == ["100%_Real"]
    assert await names(client, name__ilike="_") == ["100%_Real"]
    assert await names(client, secret_name__endswith="'r") == ["Starfire"]
    assert await names(client, secret_name__ilike="PERCENT") == ["100%_Real", "1000 Real"]


async def test_filters_combine_with_and(client):
    league, _ = client.teams
    assert await names(client, team_id=league, age__gte=30) == ["Batman", "Wonder Woman"]
    assert await names(client, name__ilike="bat", age__lt=30) == ["Batgirl"]


async def test_bad_filter_values_are_422_naming_the_parameter(client):
    cases = [
        ("age__gte", "old"),
        ("age__in", "1,two"),
        ("age__isnull", "maybe"),
        ("team_id", "x"),
        ("age__lt", str(2**40)),
        ("name__ilike", "x" * 101),
        ("age__in", ",".join(["1"] * 101)),
        ("age__in", f"1,{2**40}"),
    ]
    for name, value in cases:
        r = await client.get("/heroes", params={name: value})
        assert r.status_code == 422, (name, r.text)
        assert r.json()["detail"][0]["loc"] == ["query", name], r.text


async def test_unknown_parameters_and_disallowed_operators_are_422(client):
    for name in ("colour", "age__like", "secret_name", "secret_name__gt", "name__regex", "pg"):
        r = await client.get("/heroes", params={name: "1"})
        assert r.status_code == 422, (name, r.text)
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["query", name]
        assert "unknown query parameter" in detail["msg"]


async def test_strict_query_can_be_relaxed(db, client_for):
    async with client_for(query_app(db, strict_query=False)) as client:
        r = await client.get("/heroes", params={"utm_source": "mail"})
        assert r.status_code == 200, r.text


async def test_sort_with_nulls_last_ascending_and_first_descending(client):
    assert await names(client, sort="age") == [
        "Robin",
        "Starfire",
        "Batgirl",
        "100%_Real",
        "Batman",
        "Wonder Woman",
        "Superman",
        "1000 Real",
    ]
    assert await names(client, sort="-age") == [
        "Superman",
        "1000 Real",
        "Wonder Woman",
        "Batman",
        "100%_Real",
        "Batgirl",
        "Starfire",
        "Robin",
    ]
    league, titans = client.teams
    assert await names(client, sort="-team_id,name", team_id__isnull=False) == [
        "Robin",
        "Starfire",
        "Batgirl",
        "Batman",
        "Superman",
        "Wonder Woman",
    ]


async def test_unknown_sort_field_is_422(client):
    for sort in ("power", "-power", "name,", " name", "+name", "age,,name"):
        r = await client.get("/heroes", params={"sort": sort})
        assert r.status_code == 422, (sort, r.text)
        assert r.json()["detail"][0]["loc"] == ["query", "sort"]
    assert await names(client, sort="") == await names(client)


async def test_a_sort_field_named_again_adds_nothing(client):
    # The documented pattern cannot say "each field once", so a repeat is accepted: ordering
    # by a field again after ordering by it changes nothing.
    assert await names(client, sort="age,-age,name") == await names(client, sort="age,name")


async def test_search_is_case_insensitive_or_across_fields_and_with_filters(client):
    assert await names(client, q="BAT") == ["Batman", "Batgirl"]
    assert await names(client, q="gordon") == ["Batgirl"]
    assert await names(client, q="an", age__gte=30) == ["Batman", "Wonder Woman"]
    assert await names(client, q="%") == ["100%_Real"]


async def test_field_selection_returns_and_selects_only_those_columns(db, client):
    statements = []

    def capture(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        r = await client.get("/heroes", params={"fields": "id,name", "limit": 2})
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    assert r.status_code == 200, r.text
    assert [set(item) for item in r.json()["items"]] == [{"id", "name"}, {"id", "name"}]
    page_sql = [s for s in statements if "LIMIT" in s.upper()][0]
    assert "secret_name" not in page_sql and "age" not in page_sql, page_sql
    r = await client.get("/heroes", params={"fields": "id,power"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "fields"]


async def test_count_modes(client, backend):
    r = await client.get("/heroes", params={"count": "none"})
    assert r.json()["total"] is None and len(r.json()["items"]) == 8
    r = await client.get("/heroes", params={"count": "exact", "age__gte": 30})
    assert r.json()["total"] == 3
    # Estimated counts answer the same on both databases: few rows are counted exactly.
    r = await client.get("/heroes", params={"count": "estimated"})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 8
    r = await client.get("/heroes", params={"count": "approximately"})
    assert r.status_code == 422


async def test_count_none_runs_no_count_query(db, client):
    statements = []
    event.listen(db.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    await client.get("/heroes", params={"count": "none"})
    assert not any("count(" in s.lower() for s in statements), statements


async def walk(client, **params):
    pages = []
    r = await client.get("/heroes", params=params)
    while True:
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        if page["next_cursor"] is None:
            return pages
        r = await client.get("/heroes", params={**params, "cursor": page["next_cursor"]})


@pytest.mark.parametrize("sort", ["", "age", "-age", "-team_id,name", "name", "-id"])
async def test_keyset_pages_concatenate_to_the_full_sorted_list(client, sort):
    full = await names(client, sort=sort)
    pages = await walk(client, sort=sort, limit=3)
    assert [i["name"] for p in pages for i in p["items"]] == full
    assert all(p["offset"] is None for p in pages[1:])
    assert all(len(p["items"]) == 3 for p in pages[:-1])


async def test_cursors_that_name_no_page_are_404(client):
    first = (await client.get("/heroes", params={"limit": 2, "sort": "age"})).json()
    cursor = first["next_cursor"]
    bad = {
        "not base64 !!": "base64",
        "AAAA": "altered",
        cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"): "altered",
    }
    # A cursor names a position the server handed out, as an id names a row: one the list did
    # not make is a 404 (the document cannot tell valid cursors from other strings).
    for value, words in bad.items():
        r = await client.get("/heroes", params={"cursor": value, "sort": "age"})
        assert r.status_code == 404, (value, r.text)
        assert "cursor" in r.json()["detail"] and words in r.json()["detail"], r.text
    r = await client.get("/heroes", params={"cursor": cursor, "sort": "-age"})
    assert r.status_code == 404
    assert "sort=age" in r.json()["detail"]
    team_page = (await client.get("/teams", params={"limit": 1})).json()
    r = await client.get("/heroes", params={"cursor": team_page["next_cursor"]})
    assert r.status_code == 404
    assert "another resource" in r.json()["detail"]


async def test_offset_beside_a_cursor_skips_rows_after_it(client):
    cursor = (await client.get("/heroes", params={"limit": 2, "sort": "age"})).json()["next_cursor"]
    after = (await client.get("/heroes", params={"cursor": cursor, "sort": "age"})).json()
    r = await client.get("/heroes", params={"cursor": cursor, "sort": "age", "offset": 0})
    assert r.status_code == 200, r.text
    assert r.json() == after
    r = await client.get("/heroes", params={"cursor": cursor, "sort": "age", "offset": 2})
    assert r.status_code == 200, r.text
    assert r.json()["items"] == after["items"][2:]
    assert r.json()["offset"] is None


async def test_deep_keyset_page_uses_no_offset(db, client):
    statements = []
    event.listen(
        db.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2:4])
    )
    first = (await client.get("/heroes", params={"limit": 2})).json()
    statements.clear()
    r = await client.get("/heroes", params={"limit": 2, "cursor": first["next_cursor"]})
    assert r.status_code == 200
    pages = [(sql, params) for sql, params in statements if "LIMIT" in sql.upper()]
    assert len(pages) == 1, statements
    sql, params = pages[0]
    # SQLite always spells "OFFSET ?"; it must be bound to 0 there.
    assert "OFFSET" not in sql.upper() or list(params)[-1] == 0, (sql, params)
    assert "heroes.id) >" in sql, sql


async def test_custom_filters_compose_with_the_query_language(db, client_for):
    def adults(adult: bool = False):
        return Hero.age >= 18 if adult else None

    async with client_for(query_app(db, filters=[adults])) as client:
        for name, age in [("A", 10), ("B", 20), ("C", 30), ("D", 40)]:
            r = await client.post("/heroes", json={"name": name, "secret_name": "s", "age": age})
            assert r.status_code == 201
        r = await client.get(
            "/heroes", params={"adult": "true", "age__lt": 40, "sort": "-age", "limit": 1}
        )
        page = r.json()
        assert page["total"] == 2 and [i["name"] for i in page["items"]] == ["C"]
        r = await client.get(
            "/heroes",
            params={"adult": "true", "age__lt": 40, "sort": "-age", "cursor": page["next_cursor"]},
        )
        assert [i["name"] for i in r.json()["items"]] == ["B"]


def test_query_options_are_checked_when_the_router_is_built():
    bad = [
        ({"filter_fields": {"power": ["eq"]}}, "not a column"),
        ({"filter_fields": {"age": ["like"]}}, "does not fit age"),
        ({"filter_fields": {"age": ["regex"]}}, "unknown filter operator"),
        ({"sort_fields": ["power"]}, "sort_fields names 'power'"),
        ({"search_fields": ["age"]}, "not a text column"),
        ({"count": "roughly"}, "count must be one of"),
        ({"filter_fields": {"age": ["eq"]}, "strict_query": True, "prefix": "/x"}, None),
    ]
    for options, message in bad:
        if message is None:
            CRUDRouter(Hero, HeroRead, **options)
            continue
        with pytest.raises(ConfigurationError, match=message):
            CRUDRouter(Hero, HeroRead, **options)


def test_every_filter_is_documented_with_its_type():
    from crudrouter_sqla.core import Database

    app = query_app(Database("sqlite+aiosqlite://"))
    params = {p["name"]: p for p in app.openapi()["paths"]["/heroes"]["get"]["parameters"]}
    assert {"age__gte", "age", "name__ilike", "team_id__in", "q", "sort", "cursor"} <= set(params)
    age = params["age__gte"]["schema"]["anyOf"][0]
    assert age["type"] == "integer"
    assert params["name__ilike"]["schema"]["anyOf"][0]["type"] == "string"
    assert params["age__isnull"]["schema"]["anyOf"][0]["type"] == "boolean"
