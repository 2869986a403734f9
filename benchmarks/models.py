"""The tables and schemas every variant serves, so they differ only in their endpoints."""

from typing import Annotated

from fastapi import Header
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    headquarters: Mapped[str] = mapped_column(String(100))


class Hero(Base):
    __tablename__ = "heroes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    secret_name: Mapped[str] = mapped_column(String(100))
    # Indexed so that "filter by age, sort by age" is an index scan, as a real app would have it.
    age: Mapped[int | None] = mapped_column(index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    team: Mapped[Team | None] = relationship()


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    headquarters: str


class HeroRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    secret_name: str
    age: int | None
    team_id: int | None


class HeroWithTeam(HeroRead):
    """A hero with its team embedded (the ``get_team`` and ``list_team`` routes)."""

    team: TeamRead | None


class HeroCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    secret_name: str = Field(min_length=1, max_length=100)
    age: int | None = Field(default=None, ge=0, le=10_000)
    team_id: int | None = None


class HeroUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    secret_name: str | None = Field(default=None, min_length=1, max_length=100)
    age: int | None = Field(default=None, ge=0, le=10_000)
    team_id: int | None = None


class HeroPage(BaseModel):
    """The page a hand-written list endpoint returns; the same shape as `crudrouter_sqla.Page`."""

    items: list[HeroRead]
    total: int
    limit: int
    offset: int


class HeroWithTeamPage(BaseModel):
    items: list[HeroWithTeam]
    total: int
    limit: int
    offset: int


READ_KEYS = tuple(HeroRead.model_fields)
"""The JSON keys of one hero, the same in every variant."""
TEAM_READ_KEYS = tuple(HeroWithTeam.model_fields)
"""The JSON keys of one hero with its team embedded."""


def current_team(x_team: Annotated[int, Header()] = 1) -> int:
    """The caller's tenant (a team) of the tenancy routes: what an app's auth dependency
    gives; the load generator sends no header, so every request is team 1's."""
    return x_team
