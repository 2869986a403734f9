"""Variant ``ceiling``: the least a FastAPI endpoint can do for the same answers.

SQLAlchemy Core statements on a connection of the engine (no ORM, no session), rows turned into
JSON bytes once with ``pydantic_core.to_json`` and returned as a raw `Response`. Parameters and
bodies are still parsed and validated by FastAPI, so this is the ceiling for a FastAPI router,
not for a bare ASGI app.
"""

from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Response
from pydantic_core import to_json
from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..models import Base, HeroCreate, HeroUpdate
from . import database

db = database()
app = FastAPI(lifespan=db.lifespan)

table = Base.metadata.tables["heroes"]
columns = [table.c[key] for key in ("id", "name", "secret_name", "age", "team_id")]
read = select(*columns)
count = select(func.count()).select_from(table)
SORTS: dict[str, Any] = {
    "id": table.c.id.asc(),
    "-id": table.c.id.desc(),
    "age": table.c.age.asc(),
    "-age": table.c.age.desc(),
}
JSON = "application/json"


def _json(row: Row[Any]) -> bytes:
    return to_json(row._asdict())


@app.get("/heroes")
async def list_heroes(
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    age__gte: Annotated[int | None, Query(ge=0)] = None,
    sort: Annotated[str | None, Query(pattern="^-?(id|age)$")] = None,
) -> Response:
    counted, query = count, read
    if age__gte is not None:
        counted = counted.where(table.c.age >= age__gte)
        query = query.where(table.c.age >= age__gte)
    if sort is not None:
        query = query.order_by(SORTS[sort])
    query = query.order_by(table.c.id).offset(offset).limit(limit)
    async with db.engine.begin() as conn:
        total = (await conn.execute(counted)).scalar_one()
        rows = (await conn.execute(query)).all()
    items = [row._asdict() for row in rows]
    page = {"items": items, "total": total, "limit": limit, "offset": offset}
    return Response(to_json(page), media_type=JSON)


@app.get("/heroes/{hero_id}")
async def get_hero(hero_id: int) -> Response:
    async with db.engine.begin() as conn:
        row = (await conn.execute(read.where(table.c.id == hero_id))).first()
    if row is None:
        raise HTTPException(status_code=404, detail=f"Hero {hero_id} not found")
    return Response(_json(row), media_type=JSON)


@app.post("/heroes", status_code=201)
async def create_hero(body: HeroCreate) -> Response:
    try:
        async with db.engine.begin() as conn:
            statement = insert(table).values(body.model_dump()).returning(*columns)
            row = (await conn.execute(statement)).one()
    except IntegrityError:
        raise HTTPException(status_code=409, detail="Hero conflicts with another") from None
    return Response(_json(row), status_code=201, media_type=JSON)


@app.patch("/heroes/{hero_id}")
async def update_hero(hero_id: int, body: HeroUpdate) -> Response:
    values = body.model_dump(exclude_unset=True)
    try:
        async with db.engine.begin() as conn:
            if values:
                statement = update(table).where(table.c.id == hero_id).values(values)
                row = (await conn.execute(statement.returning(*columns))).first()
            else:
                row = (await conn.execute(read.where(table.c.id == hero_id))).first()
    except IntegrityError:
        raise HTTPException(status_code=409, detail="Hero conflicts with another") from None
    if row is None:
        raise HTTPException(status_code=404, detail=f"Hero {hero_id} not found")
    return Response(_json(row), media_type=JSON)


teams = Base.metadata.tables["teams"]
team_columns = [teams.c[key].label(f"t_{key}") for key in ("id", "name", "headquarters")]
read_with_team = select(*columns, *team_columns).select_from(
    table.outerjoin(teams, teams.c.id == table.c.team_id)
)


def _with_team(row: Row[Any]) -> dict[str, Any]:
    values = row._asdict()
    team = {key: values.pop(f"t_{key}") for key in ("id", "name", "headquarters")}
    values["team"] = team if team["id"] is not None else None
    return values


@app.get("/heroes-with-team")
async def list_heroes_with_team(
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    query = read_with_team.order_by(table.c.id).offset(offset).limit(limit)
    async with db.engine.begin() as conn:
        total = (await conn.execute(count)).scalar_one()
        rows = (await conn.execute(query)).all()
    page = {"items": [_with_team(r) for r in rows], "total": total, "limit": limit}
    return Response(to_json({**page, "offset": offset}), media_type=JSON)


@app.get("/heroes-with-team/{hero_id}")
async def get_hero_with_team(hero_id: int) -> Response:
    async with db.engine.begin() as conn:
        row = (await conn.execute(read_with_team.where(table.c.id == hero_id))).first()
    if row is None:
        raise HTTPException(status_code=404, detail=f"Hero {hero_id} not found")
    return Response(to_json(_with_team(row)), media_type=JSON)
