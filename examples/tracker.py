"""A project tracker: organizations, users, projects, tasks, labels and comments under ``/api/v1``.

Every request carries a bearer token naming a user; the user's organization is the tenant of
every router, so no request sees or writes another organization's rows, through references,
parents, embeds or filters either. Projects are soft-deleted (and purged by ``DELETE
/api/v1/projects/{id}/purge``); tasks have a status, a due date, a priority, an assignee and
labels; comments live under their task. A hook makes the signed-in user a new task's creator
and a new comment's author; edits by others keep them.

Run it from the repository root (users are seeded with the tokens ``alice``, an admin, and
``carol`` at Acme, and ``bob`` at Globex)::

    SQLALCHEMY_URL=sqlite+aiosqlite:///./tracker.db uvicorn examples.tracker:app
"""

import datetime
import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, ForeignKey, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crudrouter_sqla import (
    CRUDRouter,
    ErrorResponse,
    Hooks,
    Page,
    Paginator,
    Tenancy,
    new_pagination,
    write_schema,
)
from crudrouter_sqla.core import Database


class Base(DeclarativeBase):
    pass


class Status(enum.Enum):
    todo = "todo"
    doing = "doing"
    done = "done"


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(100))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    admin: Mapped[bool] = mapped_column(default=False)


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(100))
    deleted_at: Mapped[datetime.datetime | None]


class Label(Base):
    __tablename__ = "labels"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(50))


task_labels = Table(
    "task_labels",
    Base.metadata,
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("label_id", ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True),
)


class Task(Base):
    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[Status] = mapped_column(default=Status.todo)
    priority: Mapped[int] = mapped_column(default=3)
    due: Mapped[datetime.date | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    project: Mapped[Project] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    labels: Mapped[list[Label]] = relationship(secondary=task_labels, order_by=Label.id)


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(String(2000))
    task: Mapped[Task] = relationship()


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserRead(Read):
    id: int
    name: str


class ProjectRead(Read):
    id: int
    name: str


class LabelRead(Read):
    id: int
    name: str


class TaskRead(Read):
    id: int
    project_id: int
    title: str
    status: Status
    priority: int
    due: datetime.date | None
    assignee_id: int | None
    created_by: int
    assignee: UserRead | None
    labels: list[LabelRead]


class CommentRead(Read):
    id: int
    task_id: int
    author_id: int
    body: str


class OverdueTask(Read):
    id: int
    title: str
    due: datetime.date


# The derived schemas, plus a task's labels as a list of their ids; the author is set by a hook.
TaskCreate = write_schema(Task, TaskRead, include=["labels"], exclude=["created_by"])
CommentCreate = write_schema(Comment, CommentRead, exclude=["author_id"])

bearer = HTTPBearer()


def create_app(db: Database) -> FastAPI:
    """The tracker on ``db``: tables created, and two organizations seeded, at start-up."""

    async def signed_in(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
        session: Annotated[AsyncSession, Depends(db.session)],
    ) -> User:
        user = await session.scalar(select(User).where(User.token == credentials.credentials))
        if user is None:
            raise HTTPException(401, "Unknown token", headers={"WWW-Authenticate": "Bearer"})
        return user

    def org_of(user: Annotated[User, Depends(signed_in)]) -> int:
        return user.org_id

    def admin_only(user: Annotated[User, Depends(signed_in)]) -> None:
        if not user.admin:
            raise HTTPException(403, "Only an admin may purge")

    def authored(column: str) -> type[Hooks]:
        class Authored(Hooks):
            """The signed-in user is a new row's author; later edits keep it."""

            def __init__(self, user: Annotated[User, Depends(signed_in)]) -> None:
                self.user = user

            async def before_create(self, session: AsyncSession, values: dict[str, Any]) -> None:
                values[column] = self.user.id

        return Authored

    tenancy = Tenancy(column="org_id", current=org_of)
    me = {"session": db.session, "tenancy": tenancy}
    paging = new_pagination(session=db.session)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with db.new_lifespan(create_all=Base.metadata)(app):
            await seed(db)
            yield

    app = FastAPI(title="Tracker", lifespan=lifespan)
    api = APIRouter(prefix="/api/v1")
    api.include_router(CRUDRouter(User, UserRead, create_route=False, replace_route=False,
                                  update_route=False, delete_route=False, **me))  # fmt: skip
    purge = {"soft_delete": "deleted_at", "purge_route": [Depends(admin_only)]}
    api.include_router(CRUDRouter(Project, ProjectRead, **purge, **me))
    api.include_router(CRUDRouter(Label, LabelRead, **me))
    tasks = {
        "hooks": authored("created_by"),
        "filter_fields": {"status": ["eq", "in"], "priority": ["gte", "lte"], "due": ["lt"],
                          "assignee_id": ["eq", "isnull"], "labels.name": ["eq"]},
        "sort_fields": ["id", "due", "priority"],
        "search_fields": ["title"],
    }  # fmt: skip
    api.include_router(
        CRUDRouter(Task, TaskRead, TaskCreate, bulk_create_route=True, **tasks, **me)
    )
    api.include_router(CRUDRouter(Task, TaskRead, TaskCreate, parent=Task.project, **tasks, **me))
    comments = {"parent": Comment.task, "hooks": authored("author_id")}
    api.include_router(CRUDRouter(Comment, CommentRead, CommentCreate, **comments, **me))

    # A cursor that names no page is a 404, as on the generated routes.
    cursor_404 = {404: {"model": ErrorResponse, "description": "The cursor names no page"}}

    @api.get("/overdue", operation_id="list_overdue_tasks", responses=cursor_404)
    async def overdue(
        paginate: Annotated[Paginator, Depends(paging)],
        org: Annotated[int, Depends(tenancy.dependency())],
    ) -> Page[OverdueTask]:
        """Open tasks of the caller's organization past their due date, soonest first."""
        today = datetime.date.today()
        late = select(Task).where(Task.org_id == org, Task.due < today, Task.status != Status.done)
        return await paginate(late.order_by(Task.due, Task.id), OverdueTask)

    app.include_router(api)
    return app


async def seed(db: Database) -> None:
    """Two organizations and their users (tokens ``alice``, ``carol`` and ``bob``), once."""
    async with db.open_session() as session:
        if await session.scalar(select(User.id).limit(1)) is not None:
            return
        acme, globex = Organization(name="Acme"), Organization(name="Globex")
        session.add_all([acme, globex])
        await session.flush()
        session.add_all(
            [
                User(org_id=acme.id, name="Alice", token="alice", admin=True),
                User(org_id=acme.id, name="Carol", token="carol"),
                User(org_id=globex.id, name="Bob", token="bob"),
            ]
        )


db = Database.from_env()
app = create_app(db)
