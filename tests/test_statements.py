"""Single-row writes: plain values are parameters of one statement built with the router; SQL
expressions (a ``stamp`` may give one) get a statement of their own. Both write the same row."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from crudrouter_sqla._model import inspect_model
from crudrouter_sqla._query import Queries
from tests.models import Hero, Team


def _queries() -> Queries:
    return Queries(inspect_model(Hero), ["id", "name", "secret_name", "age", "team_id"])


def test_plain_values_reuse_one_statement_and_expressions_do_not():
    queries = _queries()
    first, params = queries.insert({"name": "Batman", "secret_name": "Bruce"})
    second, _ = queries.insert({"name": "Robin", "secret_name": "Dick", "age": 20})
    assert first is second
    assert params == {"name": "Batman", "secret_name": "Bruce"}
    own, none = queries.insert({"name": func.upper("flash"), "secret_name": "Barry"})
    assert own is not first and none is None
    update, params = queries.update(7, {"age": 41})
    assert update is queries.update(8, {"age": 42})[0]
    assert params is not None and params["age"] == 41 and 7 in params.values()
    assert queries.update(7, {"age": func.abs(-41)})[1] is None
    assert queries.update(7, {"age": 41}, where=[Hero.age > 3])[1] is None


async def test_both_statements_write_the_row(db):
    queries = _queries()
    async with db.open_session() as session:
        connection = await session.connection()
        for values in (
            {"name": "Batman", "secret_name": "Bruce"},
            {"name": func.upper("flash"), "secret_name": "Barry"},
        ):
            statement, params = queries.insert(values)
            await connection.execute(statement, params)
        rows = (await connection.execute(select(Hero.name).order_by(Hero.id))).scalars().all()
        assert rows == ["Batman", "FLASH"]
        if not connection.dialect.update_returning:
            return  # MariaDB: the routes update without RETURNING, then read the row back
        hero_id = await connection.scalar(select(Hero.id).where(Hero.name == "Batman"))
        statement, params = queries.update(hero_id, {"age": 41})
        row = (await connection.execute(statement, params)).one()
        assert row.age == 41 and row.name == "Batman"
        statement, params = queries.update(hero_id, {"age": func.abs(-42)})
        assert (await connection.execute(statement, params)).one().age == 42
        statement, params = queries.update(hero_id + 100, {"age": 1})
        assert (await connection.execute(statement, params)).first() is None


def test_tenant_reads_reuse_one_statement():
    """A tenant's ``team_id == value`` becomes a parameter of statements built with the router:
    every tenant's reads share one statement, and other conditions keep their own."""
    queries = Queries(
        inspect_model(Hero),
        ["id", "name", "secret_name", "age", "team_id"],
        tenant=Hero.__table__.c.team_id,
    )
    team_id = Hero.__table__.c.team_id
    first, params = queries.one(7, [team_id == 1])
    second, other = queries.one(8, [team_id == 2])
    assert first is second
    assert params is not None and other is not None
    assert set(params.values()) == {7, 1} and set(other.values()) == {8, 2}
    mixed, none = queries.one(7, [team_id == 1, Hero.age > 3])
    assert mixed is not first and none is None
    count, count_params = queries.count([team_id == 3])
    assert count is queries.count([team_id == 4])[0] and count_params is not None
    assert list(count_params.values()) == [3]


async def test_tenant_statements_read_only_the_tenants_rows(db):
    team_id = Hero.__table__.c.team_id
    queries = Queries(inspect_model(Hero), ["id", "name"], tenant=team_id)
    async with db.open_session() as session:
        connection = await session.connection()
        await connection.execute(
            insert(Team), [{"id": i, "name": n, "headquarters": n} for i, n in ((1, "A"), (2, "B"))]
        )
        for name, team in (("Batman", 1), ("Robin", 1), ("Flash", 2)):
            statement, params = queries.insert({"name": name, "secret_name": name, "team_id": team})
            await connection.execute(statement, params)
        flash = await connection.scalar(select(Hero.id).where(Hero.name == "Flash"))
        for team, found in ((1, None), (2, "Flash")):
            statement, params = queries.one(flash, [team_id == team])
            row = (await connection.execute(statement, params)).first()
            assert (row and row.name) == found
        for team, total in ((1, 2), (2, 1), (3, 0)):
            statement, params = queries.count([team_id == team])
            assert (await connection.execute(statement, params)).scalar_one() == total
