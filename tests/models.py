"""Models and schemas the tests share."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import CheckConstraint, ForeignKey, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    headquarters: Mapped[str] = mapped_column(String(100))
    heroes: Mapped[list[Hero]] = relationship(back_populates="team")

    @property
    def hero_count(self) -> int:
        return len(self.heroes)


class Hero(Base):
    __tablename__ = "heroes"
    __table_args__ = (CheckConstraint("age >= 0", name="ck_heroes_age_nonnegative"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    secret_name: Mapped[str] = mapped_column(String(100))
    age: Mapped[int | None]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    team: Mapped[Team | None] = relationship(back_populates="heroes")


class Tag(Base):
    """A natural string key the client chooses."""

    __tablename__ = "tags"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))


class Gadget(Base):
    """A UUID key made by SQLAlchemy."""

    __tablename__ = "gadgets"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    headquarters: str


class TeamWithCount(TeamRead):
    hero_count: int


class HeroRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    secret_name: str
    age: int | None
    team_id: int | None


class HeroCreate(BaseModel):
    name: str = Field(max_length=100)
    secret_name: str = Field(max_length=100)
    age: int | None = None
    team_id: int | None = None


class HeroUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    secret_name: str | None = Field(default=None, max_length=100)
    age: int | None = None
    team_id: int | None = None


class TagRead(BaseModel):
    code: str
    label: str


class GadgetRead(BaseModel):
    id: uuid.UUID
    name: str
