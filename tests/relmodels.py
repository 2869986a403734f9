"""Related models for the relationship tests: countries, teams, heroes, tags, powers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


hero_tags = Table(
    "hero_tags",
    Base.metadata,
    Column("hero_id", ForeignKey("heroes.id"), primary_key=True),
    Column("tag_slug", ForeignKey("tags.slug"), primary_key=True),
)


class Country(Base):
    __tablename__ = "countries"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    country_id: Mapped[int | None] = mapped_column(ForeignKey("countries.id"))
    country: Mapped[Country | None] = relationship(lazy="raise")
    # A joined collection that a read schema without it must not multiply rows with.
    heroes: Mapped[list[Hero]] = relationship(back_populates="team", lazy="joined")


class Tag(Base):
    __tablename__ = "tags"
    slug: Mapped[str] = mapped_column(String(30), primary_key=True)
    label: Mapped[str] = mapped_column(String(50))


class Hero(Base):
    __tablename__ = "heroes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    age: Mapped[int | None]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    team: Mapped[Team | None] = relationship(back_populates="heroes", lazy="select")
    tags: Mapped[list[Tag]] = relationship(secondary=hero_tags, lazy="selectin")
    powers: Mapped[list[Power]] = relationship(
        back_populates="hero", cascade="all, delete-orphan", lazy="raise"
    )


class Power(Base):
    __tablename__ = "powers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    level: Mapped[int] = mapped_column(default=1)
    hero_id: Mapped[int] = mapped_column(ForeignKey("heroes.id"))
    hero: Mapped[Hero] = relationship(back_populates="powers")


class CountryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    country_id: int | None = None


class TeamWithCountry(TeamRead):
    country: CountryRead | None


class TagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    slug: str
    label: str


class PowerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    level: int


class HeroRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    age: int | None
    team_id: int | None
    team: TeamWithCountry | None
    tags: list[TagRead]


class HeroWithPowers(HeroRead):
    powers: list[PowerRead]


class HeroCreate(BaseModel):
    name: str = Field(max_length=50)
    age: int | None = None
    team_id: int | None = None
    tags: list[str] = []


class PowerCreate(BaseModel):
    name: str = Field(max_length=50)
    level: int = 1


class HeroWithPowersCreate(HeroCreate):
    powers: list[PowerCreate] = []


class TeamWithHeroIds(BaseModel):
    name: str = Field(max_length=50)
    country_id: int | None = None
    heroes: list[int] = []
