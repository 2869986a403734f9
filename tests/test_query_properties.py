"""Property tests: keyset and offset pages agree with the full sorted, filtered result."""

import functools
import string

from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from crudrouter_sqla import CRUDRouter
from tests.models import Hero, HeroCreate, HeroRead, Team, TeamRead

SORTABLE = ["name", "age", "team_id", "id"]

rows_strategy = st.lists(
    st.tuples(
        st.text(string.ascii_letters, min_size=1, max_size=6),
        st.one_of(st.none(), st.integers(0, 5)),
        st.sampled_from([None, 1, 2]),
    ),
    max_size=25,
    unique_by=lambda row: row[0],
)
sort_strategy = st.lists(
    st.tuples(st.sampled_from(SORTABLE), st.booleans()), max_size=3, unique_by=lambda k: k[0]
)
filter_strategy = st.fixed_dictionaries(
    {},
    optional={
        "age__gte": st.integers(0, 5),
        "team_id__isnull": st.booleans(),
        "name__ilike": st.sampled_from(list("aeAE")),
        "team_id__in": st.sampled_from(["1", "2", "1,2"]),
    },
)

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def matches(row, filters) -> bool:
    _, name, age, team = row
    if "age__gte" in filters and (age is None or age < filters["age__gte"]):
        return False
    if "team_id__isnull" in filters and (team is None) != filters["team_id__isnull"]:
        return False
    if "name__ilike" in filters and filters["name__ilike"].lower() not in name.lower():
        return False
    if "team_id__in" in filters and str(team) not in filters["team_id__in"].split(","):
        return False
    return True


def expected_order(rows, sort):
    index = {"id": 0, "name": 1, "age": 2, "team_id": 3}
    keys = list(sort) + ([] if any(f == "id" for f, _ in sort) else [("id", False)])

    def compare(a, b):
        for field, descending in keys:
            x, y = a[index[field]], b[index[field]]
            if x == y:
                continue
            # Nulls sort as larger than every value: last ascending, first descending.
            if x is None:
                result = 1
            elif y is None:
                result = -1
            else:
                result = -1 if x < y else 1
            return -result if descending else result
        return 0

    return sorted(rows, key=functools.cmp_to_key(compare))


def app_for(db):
    app = FastAPI(lifespan=db.lifespan)
    app.include_router(
        CRUDRouter(
            Hero,
            HeroRead,
            HeroCreate,
            session=db.session,
            filter_fields={"age": ["gte"], "team_id": ["isnull", "in"], "name": ["ilike"]},
        )
    )
    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    return app


async def load(db, rows):
    async with db.open_session() as session:
        await session.execute(delete(Hero))
        await session.execute(delete(Team))
        await session.execute(
            insert(Team), [{"id": i, "name": f"T{i}", "headquarters": "x"} for i in (1, 2)]
        )
        stored = []
        for i, (name, age, team) in enumerate(rows, start=1):
            stored.append((i, name, age, team))
        if stored:
            await session.execute(
                insert(Hero),
                [
                    {"id": i, "name": n, "secret_name": "s", "age": a, "team_id": t}
                    for i, n, a, t in stored
                ],
            )
    return stored


def sort_param(sort):
    return ",".join(("-" if descending else "") + field for field, descending in sort)


@PROPERTY_SETTINGS
@given(rows=rows_strategy, sort=sort_strategy, filters=filter_strategy, limit=st.integers(1, 6))
async def test_pages_equal_the_full_sorted_filtered_result(
    db, client_for, rows, sort, filters, limit
):
    stored = await load(db, rows)
    wanted = [r[0] for r in expected_order([r for r in stored if matches(r, filters)], sort)]
    params = {**filters, "limit": limit}
    if sort:
        params["sort"] = sort_param(sort)
    async with client_for(app_for(db)) as client:
        # Keyset: follow next_cursor to the end.
        keyset, cursor, pages = [], None, 0
        while True:
            query = dict(params) if cursor is None else {**params, "cursor": cursor}
            r = await client.get("/heroes", params=query)
            assert r.status_code == 200, r.text
            page = r.json()
            assert page["total"] == len(wanted)
            keyset += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            pages += 1
            assert pages <= len(wanted) + 1
            if cursor is None:
                break
        assert keyset == wanted

        # Offset: every page in turn; no row twice, none skipped.
        by_offset = []
        for offset in range(0, len(wanted) + limit, limit):
            r = await client.get("/heroes", params={**params, "offset": offset})
            assert r.status_code == 200, r.text
            by_offset += [item["id"] for item in r.json()["items"]]
        assert by_offset == wanted
