"""Variant ``handwritten``: the endpoints a FastAPI user writes by hand today.

ORM objects through an `AsyncSession` (``session.get``, ``session.add`` + flush + refresh,
setattr + flush) and a Pydantic ``response_model`` that serializes them.
"""

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from ..models import (
    Hero,
    HeroCreate,
    HeroPage,
    HeroRead,
    HeroUpdate,
    HeroWithTeam,
    HeroWithTeamPage,
    current_team,
)
from . import database

db = database()
app = FastAPI(lifespan=db.lifespan)
SessionDep = Annotated[AsyncSession, Depends(db.session)]

SORTS: dict[str, Any] = {
    "id": Hero.id.asc(),
    "-id": Hero.id.desc(),
    "age": Hero.age.asc(),
    "-age": Hero.age.desc(),
}


@app.get("/heroes", response_model=HeroPage)
async def list_heroes(
    session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    age__gte: Annotated[int | None, Query(ge=0)] = None,
    sort: Annotated[str | None, Query(pattern="^-?(id|age)$")] = None,
) -> Any:
    count = select(func.count()).select_from(Hero)
    query = select(Hero)
    if age__gte is not None:
        count = count.where(Hero.age >= age__gte)
        query = query.where(Hero.age >= age__gte)
    if sort is not None:
        query = query.order_by(SORTS[sort])
    query = query.order_by(Hero.id).offset(offset).limit(limit)
    total = await session.scalar(count)
    heroes = (await session.scalars(query)).all()
    return {"items": heroes, "total": total, "limit": limit, "offset": offset}


@app.get("/heroes/{hero_id}", response_model=HeroRead)
async def get_hero(hero_id: int, session: SessionDep) -> Any:
    hero = await session.get(Hero, hero_id)
    if hero is None:
        raise HTTPException(status_code=404, detail=f"Hero {hero_id} not found")
    return hero


@app.post("/heroes", response_model=HeroRead, status_code=201)
async def create_hero(body: HeroCreate, session: SessionDep) -> Any:
    hero = Hero(**body.model_dump())
    session.add(hero)
    try:
        await session.flush()
    except IntegrityError:
        raise HTTPException(status_code=409, detail="Hero conflicts with another") from None
    await session.refresh(hero)
    return hero


@app.patch("/heroes/{hero_id}", response_model=HeroRead)
async def update_hero(hero_id: int, body: HeroUpdate, session: SessionDep) -> Any:
    hero = await session.get(Hero, hero_id)
    if hero is None:
        raise HTTPException(status_code=404, detail=f"Hero {hero_id} not found")
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(hero, key, value)
    try:
        await session.flush()
    except IntegrityError:
        raise HTTPException(status_code=409, detail="Hero conflicts with another") from None
    return hero


@app.get("/heroes-with-team", response_model=HeroWithTeamPage)
async def list_heroes_with_team(
    session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    total = await session.scalar(select(func.count()).select_from(Hero))
    query = select(Hero).options(joinedload(Hero.team)).order_by(Hero.id)
    heroes = (await session.scalars(query.offset(offset).limit(limit))).all()
    return {"items": heroes, "total": total, "limit": limit, "offset": offset}


@app.get("/heroes-with-team/{hero_id}", response_model=HeroWithTeam)
async def get_hero_with_team(hero_id: int, session: SessionDep) -> Any:
    hero = await session.get(Hero, hero_id, options=[joinedload(Hero.team)])
    if hero is None:
        raise HTTPException(status_code=404, detail=f"Hero {hero_id} not found")
    return hero


TeamDep = Annotated[int, Depends(current_team)]


@app.get("/tenant/heroes", response_model=HeroPage)
async def list_tenant_heroes(
    session: SessionDep,
    team: TeamDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    count = select(func.count()).select_from(Hero).where(Hero.team_id == team)
    query = select(Hero).where(Hero.team_id == team).order_by(Hero.id).offset(offset).limit(limit)
    total = await session.scalar(count)
    heroes = (await session.scalars(query)).all()
    return {"items": heroes, "total": total, "limit": limit, "offset": offset}


@app.get("/tenant/heroes/{hero_id}", response_model=HeroRead)
async def get_tenant_hero(hero_id: int, session: SessionDep, team: TeamDep) -> Any:
    hero = await session.scalar(select(Hero).where(Hero.id == hero_id, Hero.team_id == team))
    if hero is None:
        raise HTTPException(status_code=404, detail=f"Hero {hero_id} not found")
    return hero
