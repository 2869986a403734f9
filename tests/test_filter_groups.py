"""The complete filter grammar: ``or``, ``and`` and ``not`` groups, ``between``, over HTTP on
SQLite and PostgreSQL; and the documented patterns of the list parameters, which accept what
they describe."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crudrouter_sqla import CRUDRouter
from crudrouter_sqla._query._groups import MAX_DEPTH, MAX_LENGTH
from tests.apps import ROSTER, page_names, seed_roster, seed_team
from tests.models import Hero, HeroRead, Team, TeamRead

HEROES = [
    *ROSTER,
    ("Plastic, Man", "Patrick (Eel) O'Brian", 30, None),
]


def groups_app(db):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(
        CRUDRouter(
            Team,
            TeamRead,
            session=db.session,
            filter_fields={"name": "*", "heroes.name": ["ilike"]},
        )
    )
    app.include_router(
        CRUDRouter(
            Hero,
            HeroRead,
            session=db.session,
            filter_fields={
                "name": ["eq", "ilike", "in"],
                "age": "*",
                "team_id": ["eq", "in", "isnull"],
                "team.name": ["eq", "ilike"],
            },
            sort_fields=["name", "age", "team.name"],
        )
    )
    return app


@pytest.fixture
async def client(db, client_for):
    async with client_for(groups_app(db)) as client:
        await seed_roster(client, HEROES)
        yield client


async def names(client, path="/heroes", **params):
    return sorted(await page_names(client, path, **params))


async def refused(client, name, value, words, path="/heroes"):
    r = await client.get(path, params={name: value})
    assert r.status_code == 422, (value, r.text)
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["query", name], detail
    assert words in detail["msg"], detail
    return detail["msg"]


async def test_or_on_one_field(client):
    assert await names(client, **{"or": "(age__lt=18,age__gt=100)"}) == ["Robin", "Wonder Woman"]


async def test_or_across_fields_and_with_other_filters(client):
    got = await names(client, **{"or": "(name__ilike=girl,age__gte=3000)"})
    assert got == ["Batgirl", "Wonder Woman"]
    got = await names(client, **{"or": "(name__ilike=girl,age__gte=3000)", "age__lt": 100})
    assert got == ["Batgirl"]


async def test_between_is_inclusive_at_top_level_and_in_groups(client):
    assert await names(client, age__between="22,30") == ["Batgirl", "Plastic, Man", "Starfire"]
    got = await names(client, **{"or": "(age__between=(17,22),name=Batman)"})
    assert got == ["Batman", "Robin", "Starfire"]
    assert await names(client, age__between="30,22") == []


async def test_not_keeps_rows_whose_condition_is_not_true_nulls_included(client):
    got = await names(client, **{"not": "(age__gte=25)"})
    assert got == ["Robin", "Starfire", "Superman"]
    # not of several conditions negates all of them together
    got = await names(client, **{"not": "(team_id__isnull=false,age__lt=30)"})
    assert got == ["Batman", "Plastic, Man", "Superman", "Wonder Woman"]


async def test_groups_nest_and_combine(client):
    query = {"and": "(or(name__ilike=bat,name__ilike=star),not(age__gte=40))"}
    assert await names(client, **query) == ["Batgirl", "Starfire"]
    query = {"or": "(and(team_id__isnull=true),and(age__gte=30,age__lte=40))"}
    assert await names(client, **query) == ["Batman", "Plastic, Man"]
    both = {"or": "(name=Robin,name=Batman)", "not": "(name=Robin)"}
    assert await names(client, **both) == ["Batman"]


async def test_list_values_and_quoted_text(client):
    assert await names(client, **{"or": "(name__in=(Robin,Batman),age=3000)"}) == [
        "Batman",
        "Robin",
        "Wonder Woman",
    ]
    assert await names(client, **{"or": '(name="Plastic, Man",name__in=("Robin"))'}) == [
        "Plastic, Man",
        "Robin",
    ]
    assert await names(client, **{"or": r'(name__ilike="man\"",name=Robin)'}) == ["Robin"]


async def test_relationship_paths_inside_groups(client):
    # A to-one path joins, inside a group too; the count uses the same joins.
    got = await names(client, **{"or": "(team.name__ilike=titans,age__gte=3000)"})
    assert got == ["Robin", "Starfire", "Wonder Woman"]
    got = await names(client, **{"not": "(team.name=Titans)"}, sort="team.name")
    assert got == ["Batgirl", "Batman", "Plastic, Man", "Superman", "Wonder Woman"]
    # A to-many path is EXISTS.
    got = await names(client, "/teams", **{"or": "(heroes.name__ilike=robin,name=Nobody)"})
    assert got == ["Titans"]
    got = await names(client, "/teams", **{"not": "(heroes.name__ilike=bat)"})
    assert got == ["Titans"]


async def test_integers_beyond_the_column_compare_as_numbers_in_groups(client):
    big, aged = 2**70, ["Batgirl", "Batman", "Plastic, Man", "Robin", "Starfire", "Wonder Woman"]
    assert await names(client, **{"or": f"(age__gte={big},name=Robin)"}) == ["Robin"]
    assert await names(client, **{"or": f"(age__lt={big})"}) == aged
    assert await names(client, **{"or": f"(age__gt=-{big})"}) == aged
    assert await names(client, **{"or": f"(age__lte=-{big},age={big})"}) == []
    assert len(await names(client, **{"or": f"(age__ne={big})"})) == len(HEROES)
    assert await names(client, **{"or": f"(age__in=({big},17,-{big}))"}) == ["Robin"]
    assert await names(client, **{"or": f"(age__between=(-{big},20))"}) == ["Robin"]
    assert await names(client, **{"not": f"(age__not_in=({big}))"}) == ["Superman"]


async def test_a_wrong_part_is_a_422_that_names_it(client):
    await refused(client, "or", "(colour=red)", "cannot filter by 'colour'")
    # only the filters the router allows: name allows eq, ilike and in
    await refused(client, "or", "(name__startswith=B)", "cannot filter by 'name__startswith'")
    await refused(client, "or", "(age__gte=old)", "age__gte")
    await refused(client, "or", "(age__between=(1))", "two values")
    await refused(client, "or", "(age__gte=1", "expected ')'")
    await refused(client, "or", "age__gte=1", "expected '('")
    await refused(client, "or", "(age__gte=1))", "end")
    await refused(client, "or", "(name=a(b)", "quote")
    await refused(client, "or", "(name=a\x00b)", "NUL")
    await refused(client, "or", "()", "cannot filter by ''")
    deep = "(" + "or(" * MAX_DEPTH + "age=1" + ")" * MAX_DEPTH + ")"
    await refused(client, "or", deep, f"at most {MAX_DEPTH} deep")
    many = "(" + ",".join(["age=1"] * (MAX_LENGTH // 6 + 1)) + ")"
    await refused(client, "or", many, f"at most {MAX_LENGTH} characters")
    await refused(client, "age__between", "1", "two values")


async def test_group_parameters_exist_only_with_filters(db, client_for):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    async with client_for(app) as client:
        r = await client.get("/teams", params={"or": "(name=x)"})
        assert r.status_code == 422 and "unknown query parameter" in r.text


# ----------------------------------------------------------------------------- the document


def _samples(pattern: str, count: int = 40) -> list[str]:
    values: list[str] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(st.from_regex(pattern, fullmatch=True))
    def collect(value: str) -> None:
        values.append(value)

    collect()
    return values


def _parameters(app: FastAPI, path: str) -> dict[str, dict]:
    operation = app.openapi()["paths"][path]["get"]
    return {p["name"]: p["schema"] for p in operation["parameters"]}


def _operation_parameters(app: FastAPI, path: str) -> dict[str, dict]:
    operation = app.openapi()["paths"][path]["get"]
    return {p["name"]: p for p in operation["parameters"]}


@pytest.mark.parametrize("name", ["name__in", "age__between", "age__not_in"])
async def test_every_list_the_documented_array_describes_is_accepted(db, client, name):
    # A list filter is an array of the column's values, written a,b,c (form, not exploded).
    parameter = _operation_parameters(groups_app(db), "/heroes")[name]
    assert (parameter["style"], parameter["explode"]) == ("form", False), parameter
    schema = parameter["schema"]
    assert schema["type"] == "array", schema
    items = schema["items"]
    if items["type"] == "integer":
        low, high = items["minimum"], items["maximum"]
        values = [str(v) for v in (low, high, 0, -1, 1, 42)]
        refused = [str(low - 1), str(high + 1), "1.5", "x", "\x00"]
    else:
        assert items["type"] == "string" and items["pattern"], items
        values = [v for v in _samples(items["pattern"]) if len(v) <= items["maxLength"]]
        refused = ["x" * (items["maxLength"] + 1), "a\x00"]
    size = schema.get("minItems", 1)
    lists = [values[i : i + size] for i in range(0, len(values) - size + 1)]
    if schema.get("minItems", 0) != schema["maxItems"]:
        lists.append(values[: schema["maxItems"]] * (schema["maxItems"] // len(values) + 1))
        lists[-1] = lists[-1][: schema["maxItems"]]
    for value in lists:
        r = await client.get("/heroes", params={name: ",".join(value), "count": "none"})
        assert r.status_code == 200, (value, r.text)
    for bad in refused:
        value = [bad, *values[: size - 1]]
        r = await client.get("/heroes", params={name: ",".join(value)})
        assert r.status_code == 422, (value, r.text)
    too_many = values[:1] * (schema["maxItems"] + 1)
    r = await client.get("/heroes", params={name: ",".join(too_many)})
    assert r.status_code == 422, r.text
    if "minItems" in schema:
        r = await client.get("/heroes", params={name: ",".join(values[: schema["minItems"] - 1])})
        assert r.status_code == 422, r.text


@pytest.mark.parametrize("name", ["sort", "fields", "or", "and", "not"])
async def test_every_value_the_documented_pattern_describes_is_accepted(db, client, name):
    schema = _parameters(groups_app(db), "/heroes")[name]
    assert schema["type"] == "string" and schema["pattern"], schema
    for value in _samples(schema["pattern"]):
        if len(value) > schema["maxLength"]:
            continue
        r = await client.get("/heroes", params={name: value, "count": "none"})
        assert r.status_code == 200, (value, r.text)
    for value in ("", " ", "x,", "(", "\x00"):
        r = await client.get("/heroes", params={name: value})
        matches = bool(__import__("re").fullmatch(schema["pattern"], value))
        assert (r.status_code == 200) == matches, (value, r.text)


async def test_count_estimated_answers_alike_on_both_databases(client):
    # A fresh, small table: PostgreSQL's estimate is replaced by an exact count under the
    # threshold; SQLite counts exactly.
    r = await client.get("/heroes", params={"count": "estimated"})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == len(HEROES)
    r = await client.get("/heroes", params={"count": "estimated", "age__gte": 30})
    assert r.json()["total"] == 3


async def test_estimates_at_or_above_the_threshold_are_kept(db, client_for, backend):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(
        CRUDRouter(Team, TeamRead, session=db.session, count="estimated", estimate_threshold=1)
    )
    async with client_for(app) as client:
        await seed_team(client, "Justice League")
        r = await client.get("/teams")
        assert r.status_code == 200, r.text
        total = r.json()["total"]
        # PostgreSQL's planner guesses (at least one row); SQLite counts.
        assert isinstance(total, int) and (total == 1 if backend == "sqlite" else total >= 1)


def test_estimate_threshold_must_be_positive():
    from crudrouter_sqla import ConfigurationError

    with pytest.raises(ConfigurationError, match="estimate_threshold must be a positive integer"):
        CRUDRouter(Team, TeamRead, estimate_threshold=0)
