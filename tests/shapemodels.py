"""Models for the table-shape and write-policy tests: composite keys, soft delete, client keys."""

from __future__ import annotations

import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Guild(Base):
    __tablename__ = "guilds"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Member(Base):
    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Membership(Base):
    """A composite key: (guild_id, member_id), with a version column for ETags."""

    __tablename__ = "memberships"
    guild_id: Mapped[int] = mapped_column(ForeignKey("guilds.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(default=1)
    guild: Mapped[Guild] = relationship()
    __mapper_args__ = {"version_id_col": version}


class Note(Base):
    """Soft delete by timestamp; the title is unique among live notes only."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    owner: Mapped[str | None] = mapped_column(String(30))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index(
            "uq_notes_live_title",
            "title",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
    )


class Flag(Base):
    """Soft delete by boolean."""

    __tablename__ = "flags"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(50))
    archived: Mapped[bool] = mapped_column(default=False)


class Setting(Base):
    """A key the client chooses, and a unique label for bulk conflicts."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(100))
    label: Mapped[str | None] = mapped_column(String(40))
    __table_args__ = (UniqueConstraint("label", name="uq_settings_label"),)


class Item(Base):
    """An autoincrement key, for bulk inserts."""

    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    qty: Mapped[int] = mapped_column(default=0)


class MembershipRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    guild_id: int
    member_id: int
    role: str


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    owner: str | None


class NoteCreate(BaseModel):
    title: str = Field(max_length=50)


class FlagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    label: str


class SettingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    key: str
    value: str
    label: str | None = None


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    qty: int


class ItemCreate(BaseModel):
    name: str = Field(max_length=50)
    qty: int = Field(default=0, ge=0, le=1_000_000)
