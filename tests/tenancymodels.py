"""Models for the tenancy tests.

Organizations are the tenants. Projects, labels, tasks, comments, pages and settings belong to
one through their ``org_id`` column; statuses, vaults and folders have no such column and are
shared by every tenant.
"""

from __future__ import annotations

import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, DateTime, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


task_labels = Table(
    "task_labels",
    Base.metadata,
    Column("task_id", ForeignKey("tasks.id"), primary_key=True),
    Column("label_id", ForeignKey("labels.id"), primary_key=True),
)


class Organization(Base):
    """The tenant table itself (it has no ``org_id``)."""

    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Status(Base):
    """Shared by every tenant: no ``org_id`` column."""

    __tablename__ = "statuses"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(100))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    tasks: Mapped[list[Task]] = relationship(back_populates="project")


class Label(Base):
    __tablename__ = "labels"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(50))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))


class Task(Base):
    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    status_id: Mapped[int | None] = mapped_column(ForeignKey("statuses.id"))
    title: Mapped[str] = mapped_column(String(100))
    project: Mapped[Project | None] = relationship(back_populates="tasks")
    status: Mapped[Status | None] = relationship()
    labels: Mapped[list[Label]] = relationship(secondary=task_labels)
    comments: Mapped[list[Comment]] = relationship(
        back_populates="task", cascade="all, delete-orphan"
    )


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    body: Mapped[str] = mapped_column(String(200))
    task: Mapped[Task] = relationship(back_populates="comments")


class Page(Base):
    """The tenant column is part of the key: (org_id, slug), both chosen by the client."""

    __tablename__ = "pages"
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    slug: Mapped[str] = mapped_column(String(50), primary_key=True)
    title: Mapped[str] = mapped_column(String(100))


class Setting(Base):
    """A client-chosen key that is unique across tenants, a unique ``code``, and a version."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    value: Mapped[str] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(default=1)
    __table_args__ = (UniqueConstraint("code", name="uq_settings_code"),)
    __mapper_args__ = {"version_id_col": version}


class Vault(Base):
    """A column the read schema does not show."""

    __tablename__ = "vaults"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    secret: Mapped[str] = mapped_column(String(50))


class Folder(Base):
    """Two columns either of which could be the soft-delete mark."""

    __tablename__ = "folders"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))


# Schemas ------------------------------------------------------------------------------------


class StatusRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    org_id: int
    name: str


class ProjectAudit(ProjectRead):
    """A read schema that shows the soft-delete mark."""

    deleted_at: datetime.datetime | None


class ProjectWithTaskIds(BaseModel):
    """Sets a one-to-many collection by keys."""

    name: str = Field(max_length=100)
    tasks: list[int] = []


class ProjectCreateWithOrg(BaseModel):
    """A create schema of the application's own that has the tenant column."""

    name: str = Field(max_length=100)
    org_id: int


class LabelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    org_id: int
    name: str


class CommentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    org_id: int
    task_id: int
    body: str


class CommentBody(BaseModel):
    """A child body without the tenant column."""

    body: str = Field(max_length=200)


class CommentBodyWithOrg(BaseModel):
    """A child body that has the tenant column."""

    body: str = Field(max_length=200)
    org_id: int


class TaskPlain(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    org_id: int
    project_id: int | None
    title: str


class TaskPlainCreate(BaseModel):
    title: str = Field(max_length=100)
    project_id: int | None = None


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    org_id: int
    project_id: int | None
    status_id: int | None
    title: str
    project: ProjectRead | None
    status: StatusRead | None
    labels: list[LabelRead]
    comments: list[CommentRead]


class TaskCreate(BaseModel):
    title: str = Field(max_length=100)
    project_id: int | None = None
    status_id: int | None = None
    labels: list[int] = []
    comments: list[CommentBody] = []


class TaskWithOrgComments(BaseModel):
    title: str = Field(max_length=100)
    comments: list[CommentBodyWithOrg] = []


class PageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    org_id: int
    slug: str
    title: str


class SettingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    key: str
    org_id: int
    value: str
    code: str | None


class SettingCreate(BaseModel):
    key: str = Field(max_length=40)
    value: str = Field(max_length=100)
    code: str | None = Field(default=None, max_length=40)


class VaultRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class FolderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
