"""Pages for hand-written routes: `new_pagination()` and its ready-made default `Paginate`.

Any ``select()`` (joins, aggregates, the caller's own ``where`` and ``order_by``) becomes the
same `Page` the generated list route answers, under the same ``limit``, ``offset``, ``page``,
``cursor`` and ``count`` query parameters, and with the same answer to each mistake: the list
route is the reference (``offset``, ``page`` and ``cursor`` add up; a cursor the route did not
make is a 404; a repeated paging parameter is a 422).

A cursor here marks a *position*, not a key: the helper cannot know which columns make an
arbitrary select's order unique, so ``next_cursor`` holds the number of rows before the next
page and the path it was made for, behind the list route's tag (a checksum under a fixed key
that every process shares, or an HMAC under ``cursor_secret``), so it works on every worker and
after a restart. Rows inserted or deleted before that position shift later pages, exactly as
with ``offset``. Cursors let clients page a hand-written route the same way as a generated one;
only the generated route's keyset cursors are stable under writes.

A page of one ORM entity whose schema embeds relationships (a field named after one, typed as a
model or a list of models) loads them eagerly, one ``SELECT ... IN`` per relationship, unless the
statement sets loader options for them itself.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, TypeVar, overload

from fastapi import Depends, Query, Request
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, lazyload, selectinload

from ._guard import Visibility
from ._model._inspect import INT64_MAX
from ._model._relations import _UNLOADABLE, MAX_DEPTH, embedded_schema
from ._query import (
    DEFAULT_MAX_OFFSET,
    MAX_CURSOR_LENGTH,
    CountMode,
    CursorCodec,
    CursorError,
    Page,
    check_count_mode,
    cursor_not_found,
    query_error,
)
from ._query._page_numbers import PageWindow, page_count, page_offset
from .core import default_session
from .errors import ConfigurationError

T = TypeVar("T")
if TYPE_CHECKING:
    from sqlalchemy import Select

    # A select() of any columns; subscripted only for the type checker, since SQLAlchemy 2.0
    # and 2.1 spell Select's type parameters differently.
    AnySelect: TypeAlias = Select[*tuple[Any, ...]]
PaginateCount: TypeAlias = CountMode
_CURSOR_RESOURCE = "paginate"
_PAGING_PARAMS = ("limit", "offset", "page", "cursor", "count")
_MAX_POSITION = INT64_MAX // 4
"""The furthest position a cursor may hold: with an offset, a page and a limit beside it, the
start of the page still fits the 64-bit ``OFFSET`` every database takes."""


class Paginator:
    """Turns a ``select()`` into one `Page` for the current request.

    FastAPI builds one per request from the query parameters (see `new_pagination`); an
    endpoint awaits it with its statement and, usually, the schema of the items.

    The statement may join, group, aggregate and filter. Give it an ``order_by`` whose last
    columns are unique (a primary key), or pages may overlap: SQL guarantees no order otherwise.
    It should not set its own ``limit`` or ``offset``.

    Items are the ORM objects when the statement selects one ORM entity (``select(Hero)``), and
    the rows as mappings of column labels otherwise (``select(Team.name, func.count())``). With
    a ``schema``, each item is validated into it (attributes of objects, keys of rows); the
    relationships such a schema embeds are loaded eagerly (one ``SELECT ... IN`` each) unless
    the statement gives loader options for them.
    """

    def __init__(
        self,
        session: AsyncSession,
        *,
        limit: int,
        window: PageWindow,
        start: int,
        count: PaginateCount,
        codec: CursorCodec,
        origin: str,
        deepest: int = _MAX_POSITION,
    ) -> None:
        self.session = session
        self.limit = limit
        self._deepest = deepest
        self.window = window
        self.count = count
        self._start = start
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
        start = self._start
        one_entity = _one_entity(statement)
        rows: Sequence[Any] = []
        if total is None or start < total:
            page_statement = statement.limit(self.limit + 1).offset(start)
            if one_entity and schema is not None:
                page_statement = _with_embeds(page_statement, schema)
            result = await session.execute(page_statement)
            rows = (
                result.unique().scalars().all()
                if one_entity
                else [dict(m) for m in result.mappings().all()]
            )
        next_cursor = None
        if len(rows) > self.limit:
            rows = rows[: self.limit]
            if start + self.limit <= self._deepest:
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


def decode_position(
    codec: CursorCodec, cursor: str, origin: str, deepest: int = _MAX_POSITION
) -> int:
    """The position in a `Paginator` cursor; the list route's 404 (``cursor_not_found``) if it is
    malformed, altered, made for another path or holds a position past ``deepest``."""
    try:
        origin_in_cursor, position = codec.decode(
            cursor, "", [str, int], [None, {"ge": 0, "le": deepest}]
        )
    except CursorError as exc:
        raise cursor_not_found(str(exc)) from None
    if origin_in_cursor != origin:
        raise cursor_not_found("cursor was made for another resource")
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


@dataclass(frozen=True)
class _Embedded:
    """A relationship a schema embeds, and what it embeds of the related rows in turn."""

    key: str
    children: tuple[_Embedded, ...]


def _embedded(
    mapper: Mapper[Any], schema: type[BaseModel], depth: int = 0
) -> tuple[_Embedded, ...]:
    """The relationships ``schema`` reads from rows of ``mapper``, as the router finds its
    embeds, but leniently: a field it cannot load is left to the schema (the router refuses
    such schemas when it is built; here the statement is the caller's)."""
    found: list[_Embedded] = []
    for name, field in schema.model_fields.items():
        rel = mapper.relationships.get(name)
        if rel is None or rel.lazy in _UNLOADABLE:
            continue
        nested = embedded_schema(field.annotation)
        if nested is None:
            continue
        deeper = depth + 1 < MAX_DEPTH
        found.append(_Embedded(name, _embedded(rel.mapper, nested[0], depth + 1) if deeper else ()))
    return tuple(found)


def _loader(owner: Any, embedded: _Embedded) -> Any:
    """One ``SELECT ... IN`` per relationship, to-one too: unlike a join it cannot clash with
    the caller's ``GROUP BY`` or ``DISTINCT``. What the schema does not embed of the related
    rows is not loaded (a ``lazy="joined"`` collection there would load every row of it)."""
    attribute = getattr(owner, embedded.key)
    target = attribute.property.mapper.class_
    children = [_loader(target, child) for child in embedded.children]
    return selectinload(attribute).options(*children, lazyload("*"))


@dataclass(frozen=True)
class _Loads:
    """The eager loads of the relationships a schema embeds, by relationship name, and the
    models they reach."""

    loaders: tuple[tuple[str, Any], ...]
    models: tuple[type[Any], ...]


_LOADS: dict[tuple[Any, Any], _Loads] = {}


def _loads(entity: Any, schema: type[BaseModel]) -> _Loads:
    """`_Loads` of ``schema`` from ``entity``; built once per entity class and schema (an
    alias, made per request, is not kept)."""
    cached = _LOADS.get((entity, schema))
    if cached is not None:
        return cached
    mapper = inspect(entity).mapper
    embeds = _embedded(mapper, schema)
    models: set[type[Any]] = set()

    def walk(owner: Mapper[Any], embedded: Sequence[_Embedded]) -> None:
        for embed in embedded:
            target = owner.relationships[embed.key].mapper
            models.add(target.class_)
            walk(target, embed.children)

    walk(mapper, embeds)
    # The statement's own rows are the caller's to choose: no criteria on its model.
    models.discard(mapper.class_)
    loads = _Loads(
        tuple((e.key, _loader(entity, e)) for e in embeds), tuple(sorted(models, key=str))
    )
    if isinstance(entity, type):
        _LOADS[(entity, schema)] = loads
    return loads


def _with_embeds(statement: AnySelect, schema: type[Any]) -> AnySelect:
    """``statement`` (of one ORM entity) with eager loads for the relationships ``schema``
    embeds, except those the statement already gives loader options for."""
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return statement
    entity = statement.column_descriptions[0]["entity"]
    loads = _loads(entity, schema)
    if not loads.loaders:
        return statement
    mapper = inspect(entity).mapper
    given = _keys_with_options(statement, mapper)
    chosen = [loader for key, loader in loads.loaders if key not in given]
    if not chosen:
        return statement
    # Soft-deleted related rows do not exist, as everywhere.
    hidden = Visibility(mapper.class_).loader_options(loads.models)
    return statement.options(*chosen, *hidden)


def _keys_with_options(statement: AnySelect, mapper: Mapper[Any]) -> set[str]:
    """The relationships of ``mapper`` the statement's own loader options name (first step of
    each path); a wildcard such as ``raiseload("*")`` names none."""
    keys: set[str] = set()
    for option in statement._with_options:
        for element in getattr(option, "context", ()):
            path: Sequence[Any] = getattr(getattr(element, "path", None), "path", ())
            if len(path) >= 2 and getattr(path[0], "mapper", None) is mapper:
                key = getattr(path[1], "key", None)
                if isinstance(key, str):
                    keys.add(key)
    return keys


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
    ``estimated`` counts exactly here) and answers every mistake as the generated list route
    does: a 422 naming the parameter for a bad or repeated value, a 404 for a cursor the route
    did not make. ``offset``, ``page`` and ``cursor`` add up: the page starts ``offset +
    (page - 1) * limit`` rows after the cursor's position (or the start).

    Args:
        min_page_size: the smallest ``limit`` a client may ask for.
        max_page_size: the largest ``limit`` a client may ask for.
        default_page_size: ``limit`` when the client sends none; default 20, kept within
            ``min_page_size`` and ``max_page_size``.
        count: how ``total`` is counted when the client does not say.
        max_offset: the deepest ``offset`` a client may ask for; ``page`` goes up to
            ``max_offset // max_page_size + 1``.
        session: the session dependency, such as ``db.session``; default the core ``Session``.
        cursor_secret: an HMAC key for cursors only this app can mint; every process must then
            share it. Default: as the generated list route, a checksum under a fixed key, so
            cursors work on every worker and after a restart. A cursor here holds a position,
            which costs the database what an offset does; since anyone can write one under
            the fixed key, without a secret cursors go no deeper than ``max_offset`` (the
            page there has no ``next_cursor``).

    Raises:
        ConfigurationError: at once, for page sizes, a count mode or a ``cursor_secret`` that
            cannot work.

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
    check_count_mode(count)
    if isinstance(max_offset, bool) or not isinstance(max_offset, int) or max_offset < 0:
        raise ConfigurationError(f"max_offset must be an integer of at least 0, got {max_offset!r}")
    codec = CursorCodec(_CURSOR_RESOURCE, cursor_secret)
    # Anyone can write a cursor under the fixed key: without a secret, a cursor reaches no
    # deeper than an offset may, so none costs more than the deepest offset.
    deepest = _MAX_POSITION if cursor_secret is not None else max_offset
    session_dependency = session or default_session
    default_count = count

    async def pagination(
        request: Request,
        _given_once: None = Depends(_paging_params_given_once),
        session: AsyncSession = Depends(session_dependency),
        limit: int = Query(
            default_page_size,
            ge=min_page_size,
            le=max_page_size,
            description=f"Page size, {min_page_size} to {max_page_size}.",
        ),
        offset: int | None = Query(
            None,
            ge=0,
            json_schema_extra={"maximum": max_offset},
            description=(
                f"Rows to skip (default 0, at most {max_offset}); with a `cursor`, rows to skip "
                "after the cursor's position."
            ),
        ),
        page: int | None = Query(
            None,
            ge=1,
            # Any limit then keeps (page - 1) * limit within max_offset, as the list route does.
            le=max_offset // max_page_size + 1,
            description=(
                "Page number, from 1: the page starts (page - 1) × limit rows further on; "
                "beside `offset` or a cursor it adds to them. The answer then holds `page`, "
                "and `pages` when counted."
            ),
        ),
        cursor: str | None = Query(
            None,
            max_length=MAX_CURSOR_LENGTH,
            description=(
                "A page's `next_cursor`, to get the page after it; 404 when it names no page "
                "of this list."
            ),
        ),
        count: PaginateCount | None = Query(
            None, description=f"How `total` is counted (default {default_count})."
        ),
    ) -> Paginator:
        if offset is not None and offset > max_offset:
            message = f"offset may be at most {max_offset}; to go deeper, follow next_cursor"
            raise query_error("offset", message, offset)
        # Offset, page and cursor add up, as in the generated list route.
        start = (offset or 0) + (0 if page is None else page_offset(page, limit))
        origin = request.url.path
        if cursor is not None:
            start += decode_position(codec, cursor, origin, deepest)
        return Paginator(
            session,
            limit=limit,
            window=PageWindow(None if cursor is not None else start, page),
            start=start,
            count=count or default_count,
            codec=codec,
            origin=origin,
            deepest=deepest,
        )

    return pagination


def _paging_params_given_once(request: Request) -> None:
    """Refuse a paging parameter given more than once, as the list route does: a sub-dependency,
    so that it answers before FastAPI validates the value it would silently pick."""
    params = request.query_params
    for name in _PAGING_PARAMS:
        if len(params.getlist(name)) > 1:
            raise query_error(name, "given more than once; give it once")


def _check_page_sizes(min_page_size: int, max_page_size: int) -> None:
    for name, value in (("min_page_size", min_page_size), ("max_page_size", max_page_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be an integer of at least 1, got {value!r}")
    if min_page_size > max_page_size:
        raise ConfigurationError(
            f"min_page_size must be between 1 and max_page_size ({max_page_size}), "
            f"got {min_page_size}"
        )


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
