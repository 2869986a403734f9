"""Teams, heroes and tags: CRUDRouters over one database, seeded with twelve heroes on first start.

A hero belongs to a team (many-to-one, embedded in every hero) and carries tags (many-to-many,
written as a list of slugs); the team's heroes are also served under ``/teams/{team_id}/heroes``.

Run it with ``./scripts/demo``, or from the repository root::

    SQLALCHEMY_URL=sqlite+aiosqlite:///./heroes.db uvicorn examples.heroes:app

and open http://127.0.0.1:8000/docs, or try http://127.0.0.1:8000/heroes?age__gte=40&sort=-age,
/heroes?q=queen, /heroes?team.name__ilike=titans, /heroes?tags.slug__in=rich,flying and
/teams/1/heroes. The URL comes from ``SQLALCHEMY_URL`` or ``DATABASE_URL``.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, ForeignKey, String, Table, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crudrouter_sqla import Aggregates, CRUDRouter, strict_json
from crudrouter_sqla.core import Database


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"
    # SQLite would otherwise give a new row the key of the last one deleted, and a client
    # still holding that key would reach the new row.
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    headquarters: Mapped[str] = mapped_column(String(100))


hero_tags = Table(
    "hero_tags",
    Base.metadata,
    Column("hero_id", ForeignKey("heroes.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_slug", ForeignKey("tags.slug", ondelete="CASCADE"), primary_key=True),
)


class Tag(Base):
    __tablename__ = "tags"
    slug: Mapped[str] = mapped_column(String(30), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))


class Hero(Base):
    __tablename__ = "heroes"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    secret_identity: Mapped[str] = mapped_column(String(100))
    age: Mapped[int | None]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    team: Mapped[Team | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=hero_tags, order_by=Tag.slug)


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    headquarters: str


class TagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    slug: str
    label: str


class TagCreate(BaseModel):
    slug: str = Field(pattern=r"^[a-z0-9-]{1,30}$")
    label: str = Field(min_length=1, max_length=100)


class HeroRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    secret_identity: str
    age: int | None
    team_id: int | None
    team: TeamRead | None
    tags: list[TagRead]


# Text any database can store (PostgreSQL refuses NUL).
NO_NUL = r"^[^\x00]*$"


@strict_json
class HeroCreate(BaseModel):
    # Strict, like the schemas the router derives: an unknown field, or a JSON type other than
    # the one documented (true for an integer), is a 422 naming the field.
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    secret_identity: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    age: int | None = Field(default=None, ge=0, le=10_000)
    team_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    tags: list[str] = Field(
        default=[],
        max_length=20,
        description="Slugs of the hero's tags, each once.",
        json_schema_extra={"uniqueItems": True},
    )


@strict_json
class TeamHeroCreate(BaseModel):
    """A hero created under ``/teams/{team_id}/heroes``: the team comes from the path."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    secret_identity: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    age: int | None = Field(default=None, ge=0, le=10_000)


TEAMS = {"Justice League": "Watchtower", "Teen Titans": "Titans Tower"}
TAGS = {"flying": "Flying", "rich": "Rich", "strong": "Super strength", "speed": "Speed"}
HERO_TAGS = {
    "Superman": ["flying", "strong"],
    "Batman": ["rich"],
    "Wonder Woman": ["flying", "strong"],
    "Flash": ["speed"],
    "Green Arrow": ["rich"],
    "Martian Manhunter": ["flying", "strong"],
    "Hawkgirl": ["flying"],
    "Shazam": ["flying", "speed", "strong"],
}
HEROES = [
    # name, secret identity, age, team
    ("Superman", "Clark Kent", 33, "Justice League"),
    ("Batman", "Bruce Wayne", 42, "Justice League"),
    ("Wonder Woman", "Diana Prince", 3000, "Justice League"),
    ("Flash", "Barry Allen", 28, "Justice League"),
    ("Aquaman", "Arthur Curry", 35, "Justice League"),
    ("Cyborg", "Victor Stone", 22, "Teen Titans"),
    ("Green Arrow", "Oliver Queen", 38, "Justice League"),
    ("Martian Manhunter", "J'onn J'onzz", 300, "Justice League"),
    ("Black Canary", "Dinah Lance", 29, "Justice League"),
    ("Hawkgirl", "Shayera Hol", 31, "Justice League"),
    ("Shazam", "Billy Batson", 15, "Justice League"),
    ("Green Lantern", "Hal Jordan", 36, "Justice League"),
]


async def seed(db: Database) -> None:
    """Add the teams and heroes when the heroes table is empty."""
    async with db.open_session() as session:
        if await session.scalar(select(func.count()).select_from(Hero)):
            return
        teams = {team.name: team for team in await session.scalars(select(Team))}
        for name, headquarters in TEAMS.items():
            teams.setdefault(name, Team(name=name, headquarters=headquarters))
        session.add_all(teams.values())
        tags = {tag.slug: tag for tag in await session.scalars(select(Tag))}
        for slug, label in TAGS.items():
            tags.setdefault(slug, Tag(slug=slug, label=label))
        session.add_all(tags.values())
        await session.flush()  # gives the new teams their ids
        session.add_all(
            Hero(
                name=name,
                secret_identity=identity,
                age=age,
                team_id=teams[team].id,
                tags=[tags[slug] for slug in HERO_TAGS.get(name, [])],
            )
            for name, identity, age, team in HEROES
        )


def create_app(db: Database) -> FastAPI:
    """The heroes app on ``db``: tables created and seeded at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with db.new_lifespan(create_all=Base.metadata)(app):
            await seed(db)
            yield

    # Swagger UI and ReDoc from files fastapi-offline ships: /docs works without internet.
    app = FastAPIOffline(title="Heroes", lifespan=lifespan)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/docs")

    app.include_router(CRUDRouter(Team, TeamRead, session=db.session))
    # A tag's slug is its key: tags are created, relabelled with PATCH and deleted, never
    # replaced (a PUT body would repeat the slug the path already names).
    app.include_router(CRUDRouter(Tag, TagRead, TagCreate, replace_route=False, session=db.session))
    # PATCH takes the update schema the router derives from HeroCreate: every field optional,
    # and null refused where HeroCreate refuses it. The team is embedded in every hero (one
    # join) and the tags are loaded with one more statement per page.
    heroes = CRUDRouter(
        Hero,
        HeroRead,
        HeroCreate,
        session=db.session,
        filter_fields={
            "age": ["gte", "lte"],
            "team_id": ["eq", "isnull"],
            "team.name": ["eq", "ilike"],
            "tags.slug": ["eq", "in"],
        },
        sort_fields=["id", "name", "age", "team.name"],
        search_fields=["name", "secret_identity"],
        # /heroes/aggregate?group_by=team.name&aggregate=count,avg_age and /heroes/export?format=csv
        # take the same filters, search and sort as the list.
        aggregates=Aggregates(group_by=["team.name", "age"], functions={"age": ["avg", "max"]}),
        export_route=True,
    )
    app.include_router(heroes)
    # The same heroes under their team: /teams/{team_id}/heroes.
    app.include_router(
        CRUDRouter(Hero, HeroRead, TeamHeroCreate, parent=Hero.team, session=db.session)
    )
    return app


db = Database.from_env()
app = create_app(db)
