"""Single-row writes: plain values are parameters of one statement built with the router; SQL
expressions (a ``stamp`` may give one) get a statement of their own. Both write the same row."""

from __future__ import annotations

from sqlalchemy import func, select

from crudrouter_sqla._model import inspect_model
from crudrouter_sqla._query import Queries
from tests.models import Hero


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
