"""Pages for hand-written routes: `new_pagination()` and its ready-made default `Paginate`.

Any ``select()`` (joins, aggregates, the caller's own ``where`` and ``order_by``) becomes the
same `Page` the generated list route answers, under the same ``limit``, ``offset``, ``page``,
``cursor`` and ``count`` query parameters.

A cursor here marks a *position*, not a key: the helper cannot know which columns make an
arbitrary select's order unique, so ``next_cursor`` holds the number of rows before the next
page, signed so clients cannot forge it. Rows inserted or deleted before that position shift
later pages, exactly as with ``offset``. Cursors let clients page a hand-written route the same
way as a generated one; only the generated route's keyset cursors are stable under writes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, TypeVar, overload

from fastapi import Depends, Query, Request
from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ._query import DEFAULT_MAX_OFFSET, MAX_CURSOR_LENGTH, CursorCodec, CursorError, Page
from ._query._page_numbers import (
    PAGE_DESCRIPTION,
    PageWindow,
    PagingError,
    page_count,
    resolve_window,
)
from .core import default_session
from .errors import ConfigurationError

T = TypeVar("T")
if TYPE_CHECKING:
    from sqlalchemy import Select

    # A select() of any columns; subscripted only for the type checker, since SQLAlchemy 2.0
    # and 2.1 spell Select's type parameters differently.
    AnySelect: TypeAlias = Select[*tuple[Any, ...]]
PaginateCount = Literal["exact", "none", "estimated"]
_COUNT_MODES: tuple[PaginateCount, ...] = ("exact", "none", "estimated")
_CURSOR_RESOURCE = "paginate"


class Paginator:
    """Turns a ``select()`` into one `Page` for the current request.

    FastAPI builds one per request from the query parameters (see `new_pagination`); an
    endpoint awaits it with its statement and, usually, the schema of the items.

    The statement may join, group, aggregate and filter. Give it an ``order_by`` whose last
    columns are unique (a primary key), or pages may overlap: SQL guarantees no order otherwise.
    It should not set its own ``limit`` or ``offset``.

    Items are the ORM objects when the statement selects one ORM entity (``select(Hero)``), and
    the rows as mappings of column labels otherwise (``select(Team.name, func.count())``). With
    a ``schema``, each item is validated into it (attributes of objects, keys of rows).
    """

    def __init__(
        self,
        session: AsyncSession,
        *,
        limit: int,
        window: PageWindow,
        position: int | None,
        count: PaginateCount,
        codec: CursorCodec,
        origin: str,
    ) -> None:
        self.session = session
        self.limit = limit
        self.window = window
        self.count = count
        self._start = window.offset if position is None else position
        self._codec = codec
        self._origin = origin

    @overload
    async def __call__(self, statement: AnySelect, schema: type[T]) -> Page[T]: ...

    @overload
    async def __call__(self, statement: AnySelect, schema: None = None) -> Page[Any]: ...

    async def __call__(self, statement: AnySelect, schema: type[Any] | None = None) -> Page[Any]:
        """Count the rows (unless ``count=none``) and fetch one page of ``statement``.

        Args:
            statement: any ``select()``.
            schema: the model of the items; without it the items are the objects or row
                mappings themselves (FastAPI's ``response_model`` may still validate them).
        """
        session = self.session
        total: int | None = None
        if self.count != "none":
            # "estimated" has no cheap, honest estimate for an arbitrary select: count exactly.
            counted = select(func.count()).select_from(
                statement.order_by(None).limit(None).offset(None).subquery()
            )
            total = (await session.execute(counted)).scalar_one()
        start = self._start or 0
        rows: Sequence[Any] = []
        if total is None or start < total:
            page_statement = statement.limit(self.limit + 1).offset(start)
            result = await session.execute(page_statement)
            rows = (
                result.unique().scalars().all()
                if _one_entity(statement)
                else [dict(m) for m in result.mappings().all()]
            )
        next_cursor = None
        if len(rows) > self.limit:
            rows = rows[: self.limit]
            next_cursor = self._codec.encode("", [self._origin, start + self.limit], [str, int])
        data = {
            "items": rows,
            "total": total,
            "limit": self.limit,
            "offset": self.window.offset,
            "next_cursor": next_cursor,
            "page": self.window.page,
            "pages": page_count(total, self.limit) if self.window.page is not None else None,
        }
        adapter = _page_adapter(schema)
        if schema is not None and rows and not isinstance(rows[0], dict):
            # Validating ORM objects may load lazy attributes, which needs the sync context.
            page: Page[Any] = await session.run_sync(
                lambda _s: adapter.validate_python(data, from_attributes=True)
            )
            return page
        return adapter.validate_python(data, from_attributes=True)


def decode_position(codec: CursorCodec, cursor: str, origin: str) -> int:
    """The position in a `Paginator` cursor; `PagingError` if it is bad or for another route."""
    try:
        origin_in_cursor, position = codec.decode(cursor, "", [str, int])
    except CursorError as exc:
        raise PagingError("cursor", str(exc)) from None
    if origin_in_cursor != origin:
        raise PagingError("cursor", "cursor was made for another list")
    if position < 0:
        raise PagingError("cursor", "cursor is malformed")
    return int(position)


_ADAPTERS: dict[Any, TypeAdapter[Page[Any]]] = {}


def _page_adapter(schema: type[Any] | None) -> TypeAdapter[Page[Any]]:
    adapter = _ADAPTERS.get(schema)
    if adapter is None:
        model: Any = Page[Any] if schema is None else Page[schema]  # type: ignore[valid-type]
        adapter = _ADAPTERS[schema] = TypeAdapter(model)
    return adapter


def _one_entity(statement: AnySelect) -> bool:
    """Whether ``statement`` selects exactly one ORM entity (``select(Hero)``)."""
    descriptions = statement.column_descriptions
    if len(descriptions) != 1:
        return False
    entity = descriptions[0].get("entity")
    return entity is not None and descriptions[0].get("expr") is entity


PaginationDependency = Callable[..., Coroutine[Any, Any, Paginator]]


def new_pagination(
    *,
    min_page_size: int = 1,
    max_page_size: int = 100,
    default_page_size: int | None = None,
    count: PaginateCount = "exact",
    max_offset: int = DEFAULT_MAX_OFFSET,
    session: Callable[..., Any] | None = None,
    cursor_secret: bytes | str | None = None,
) -> PaginationDependency:
    """Build a FastAPI dependency that gives an endpoint a `Paginator` for its request.

    The dependency declares the query parameters ``limit`` (``min_page_size`` to
    ``max_page_size``), ``offset``, ``page``, ``cursor`` and ``count`` (``exact`` or ``none``;
    ``estimated`` counts exactly here), and answers a 422 naming the parameter for a bad value.

    Args:
        min_page_size: the smallest ``limit`` a client may ask for.
        max_page_size: the largest ``limit`` a client may ask for.
        default_page_size: ``limit`` when the client sends none; default 20, kept within
            ``min_page_size`` and ``max_page_size``.
        count: how ``total`` is counted when the client does not say.
        max_offset: the deepest ``offset`` (or ``page`` start) a client may ask for.
        session: the session dependency, such as ``db.session``; default the core ``Session``.
        cursor_secret: the key that signs cursors; share it between processes. Default: a
            random key per process.

    Raises:
        ConfigurationError: at once, for page sizes or a count mode that cannot work.

    Example:
        ```python
        from fastapi import Depends, FastAPI
        from pydantic import BaseModel
        from sqlalchemy import String, select
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        from crudrouter_sqla import Page, Paginator, new_pagination
        from crudrouter_sqla.core import Database

        class Base(DeclarativeBase):
            pass

        class Hero(Base):
            __tablename__ = "heroes"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(100))

        class HeroRead(BaseModel):
            id: int
            name: str

        db = Database("sqlite+aiosqlite://")
        paginate_heroes = new_pagination(min_page_size=5, max_page_size=50, session=db.session)
        app = FastAPI(lifespan=db.new_lifespan(create_all=Base.metadata))

        @app.get("/heroes")
        async def list_heroes(
            paginate: Paginator = Depends(paginate_heroes),
        ) -> Page[HeroRead]:
            return await paginate(select(Hero).order_by(Hero.name, Hero.id), HeroRead)
        ```
    """
    _check_page_sizes(min_page_size, max_page_size)
    if default_page_size is None:
        default_page_size = min(max(20, min_page_size), max_page_size)
    if not min_page_size <= default_page_size <= max_page_size:
        raise ConfigurationError(
            f"default_page_size must be between min_page_size ({min_page_size}) and "
            f"max_page_size ({max_page_size}), got {default_page_size}"
        )
    if count not in _COUNT_MODES:
        raise ConfigurationError(f"count must be one of exact, none, estimated; got {count!r}")
    if isinstance(max_offset, bool) or not isinstance(max_offset, int) or max_offset < 0:
        raise ConfigurationError(f"max_offset must be an integer of at least 0, got {max_offset!r}")
    codec = CursorCodec(_CURSOR_RESOURCE, _secret(cursor_secret))
    session_dependency = session or default_session
    default_count = count

    async def pagination(
        request: Request,
        session: AsyncSession = Depends(session_dependency),
        limit: int = Query(
            default_page_size,
            ge=min_page_size,
            le=max_page_size,
            description=f"Page size, {min_page_size} to {max_page_size}.",
        ),
        offset: int | None = Query(
            None, ge=0, description=f"Rows to skip (default 0, at most {max_offset})."
        ),
        page: int | None = Query(None, ge=1, description=PAGE_DESCRIPTION),
        cursor: str | None = Query(
            None,
            max_length=MAX_CURSOR_LENGTH,
            description="A page's `next_cursor`, to get the page after it.",
        ),
        count: PaginateCount | None = Query(
            None, description=f"How `total` is counted (default {default_count})."
        ),
    ) -> Paginator:
        origin = request.url.path
        try:
            window = resolve_window(
                limit=limit, offset=offset, page=page, cursor=cursor, max_offset=max_offset
            )
            position = None if cursor is None else decode_position(codec, cursor, origin)
        except PagingError as exc:
            raise exc.to_validation_error() from None
        return Paginator(
            session,
            limit=limit,
            window=window,
            position=position,
            count=count or default_count,
            codec=codec,
            origin=origin,
        )

    return pagination


def _check_page_sizes(min_page_size: int, max_page_size: int) -> None:
    for name, value in (("min_page_size", min_page_size), ("max_page_size", max_page_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be an integer of at least 1, got {value!r}")
    if min_page_size > max_page_size:
        raise ConfigurationError(
            f"min_page_size must be between 1 and max_page_size ({max_page_size}), "
            f"got {min_page_size}"
        )


def _secret(secret: bytes | str | None) -> bytes:
    if secret is None:
        return _PROCESS_SECRET
    return secret.encode() if isinstance(secret, str) else secret


_PROCESS_SECRET = secrets.token_bytes(32)

Paginate = Annotated[Paginator, Depends(new_pagination())]
"""A `Paginator` for the request, on the core ``Session``: ``limit`` 1 to 100 (default 20),
``offset``, ``page``, ``cursor`` and ``count``. Build your own with `new_pagination`.

Example:
    ```python
    from fastapi import FastAPI
    from pydantic import BaseModel
    from sqlalchemy import ForeignKey, String, func, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from crudrouter_sqla import Page, Paginate
    from crudrouter_sqla.core import lifespan

    class Base(DeclarativeBase):
        pass

    class Team(Base):
        __tablename__ = "teams"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(100))

    class Hero(Base):
        __tablename__ = "heroes"
        id: Mapped[int] = mapped_column(primary_key=True)
        team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))

    class TeamSize(BaseModel):
        name: str
        heroes: int

    app = FastAPI(lifespan=lifespan)

    @app.get("/team-sizes")
    async def team_sizes(paginate: Paginate) -> Page[TeamSize]:
        statement = (
            select(Team.name, func.count(Hero.id).label("heroes"))
            .join(Hero, Hero.team_id == Team.id)
            .group_by(Team.id)
            .order_by(Team.name, Team.id)
        )
        return await paginate(statement, TeamSize)
    ```
"""
