"""`CRUDRouter`: one line per model gives a documented REST resource."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

from fastapi import APIRouter, params
from fastapi.routing import APIRoute
from pydantic import BaseModel

from . import _endpoints as endpoints
from ._cursor import PROCESS_SECRET, CursorCodec
from ._filters import FilterFields, build_filter_specs
from ._list_route import make_list
from ._listing import (
    CountMode,
    ListSpec,
    allowed_query_names,
    build_search_columns,
    build_sort_columns,
    check_count_mode,
)
from ._model import inspect_model
from ._pagination import Page, check_limits
from ._queries import Queries
from ._routes import RouteList
from ._schemas import (
    check_read_schema,
    check_write_schema,
    derive_create_schema,
    derive_update_schema,
)
from ._serialize import Serializer
from .core import default_session
from .errors import ConfigurationError, ErrorResponse

RouteSwitch = bool | Sequence[params.Depends]
"""``True`` (generate the route), ``False`` (leave it out) or dependencies for it alone."""

Responses = dict[int | str, dict[str, Any]]

_NOT_FOUND: Responses = {404: {"model": ErrorResponse, "description": "No row has this id"}}
_CONFLICT: Responses = {409: {"model": ErrorResponse, "description": "A constraint was violated"}}
_UNAVAILABLE: Responses = {
    503: {"model": ErrorResponse, "description": "The database is unavailable"}
}


class CRUDRouter(APIRouter):
    """A FastAPI router with list, get, create, replace, update and delete routes for a model.

    Args:
        model: the SQLAlchemy mapped class.
        schema: the Pydantic read schema; its fields must be attributes of ``model``.
        create_schema: the body of POST and PUT; defaults to ``schema`` without a generated key.
        update_schema: the body of PATCH; defaults to ``create_schema`` with every field optional.
        prefix: the path prefix; defaults to ``/`` + the table name.
        tags: OpenAPI tags; default ``[table name]``.
        session: the session dependency, such as ``db.session``; default the core ``Session``.
        dependencies: dependencies for every route of the router.
        default_limit: the page size when a client sends no ``limit``.
        max_limit: the largest ``limit`` a client may ask for.
        filters: dependencies returning a SQLAlchemy boolean clause (or ``None``), ANDed into
            the list query and its count.
        filter_fields: the filters the list route accepts, ``{"age": ["gte", "lte"]}``;
            ``"*"`` for an operator list, or a list of names, allows every operator that fits.
        sort_fields: the fields ``sort`` accepts; default every column of the read schema.
        search_fields: text columns that ``q`` searches (case-insensitive contains, OR-ed).
        count: how ``total`` is counted by default: ``"exact"``, ``"none"`` or
            ``"estimated"`` (PostgreSQL's planner estimate; exact elsewhere).
        strict_query: refuse (422) query parameters the list route does not declare.
        cursor_secret: the key that signs cursors; share it between processes. Default: a
            random key per process.
        list_route, get_route, create_route, replace_route, update_route, delete_route:
            ``True``, ``False`` (route left out) or a list of dependencies for that route alone.
        **kwargs: passed to `fastapi.APIRouter`.

    Raises:
        ConfigurationError: when the model, schemas or limits cannot work together.

    Example:
        ```python
        from fastapi import FastAPI
        from pydantic import BaseModel, ConfigDict
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        from crudrouter_sqla import CRUDRouter
        from crudrouter_sqla.core import Database

        class Base(DeclarativeBase):
            pass

        class Note(Base):
            __tablename__ = "notes"
            id: Mapped[int] = mapped_column(primary_key=True)
            text: Mapped[str]

        class NoteRead(BaseModel):
            model_config = ConfigDict(from_attributes=True)
            id: int
            text: str

        db = Database("sqlite+aiosqlite://")
        app = FastAPI(lifespan=db.new_lifespan(create_all=Base.metadata))
        app.include_router(CRUDRouter(Note, NoteRead, session=db.session))
        ```
    """

    def __init__(
        self,
        model: type[Any],
        schema: type[BaseModel],
        create_schema: type[BaseModel] | None = None,
        update_schema: type[BaseModel] | None = None,
        *,
        prefix: str | None = None,
        tags: list[str | Enum] | None = None,
        session: Callable[..., Any] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        default_limit: int = 20,
        max_limit: int = 100,
        filters: Sequence[Callable[..., Any]] = (),
        filter_fields: FilterFields | None = None,
        sort_fields: Sequence[str] | None = None,
        search_fields: Sequence[str] = (),
        count: CountMode = "exact",
        strict_query: bool = True,
        cursor_secret: bytes | str | None = None,
        list_route: RouteSwitch = True,
        get_route: RouteSwitch = True,
        create_route: RouteSwitch = True,
        replace_route: RouteSwitch = True,
        update_route: RouteSwitch = True,
        delete_route: RouteSwitch = True,
        **kwargs: Any,
    ) -> None:
        info = inspect_model(model)
        check_limits(default_limit, max_limit)
        check_read_schema(info, schema)
        if create_schema is None:
            create_schema = derive_create_schema(info, schema)
        check_write_schema(info, create_schema, "create_schema")
        if update_schema is None:
            update_schema = derive_update_schema(info, create_schema)
        check_write_schema(info, update_schema, "update_schema")
        for dep in filters:
            if not callable(dep):
                raise ConfigurationError(f"filters must be callables (dependencies), got {dep!r}")
        table = info.table.name
        if prefix is None:
            prefix = f"/{table}"
        if prefix.endswith("/"):
            raise ConfigurationError(f"prefix must not end with '/', got {prefix!r}")
        super().__init__(
            prefix=prefix,
            tags=tags if tags is not None else [table],
            dependencies=dependencies,
            **kwargs,
        )
        self.routes: RouteList = RouteList(self.routes)
        self.model = model
        self.schema = schema
        self.create_schema = create_schema
        self.update_schema = update_schema
        read_fields = list(schema.model_fields)
        listing = ListSpec(
            info=info,
            filters=build_filter_specs(info, filter_fields),
            sort_columns=build_sort_columns(info, read_fields, sort_fields),
            search_columns=build_search_columns(info, search_fields),
            read_fields=read_fields,
            count=check_count_mode(count),
            strict=strict_query,
            codec=CursorCodec(table, _secret(cursor_secret)),
        )
        self.resource = endpoints.Resource(
            info=info,
            queries=Queries(info, read_fields),
            serializer=Serializer(schema),
            create_schema=create_schema,
            update_schema=update_schema,
            session=session or default_session,
            filters=tuple(filters),
            default_limit=default_limit,
            max_limit=max_limit,
            listing=listing,
        )
        self._add_routes(
            table,
            list_route=list_route,
            get_route=get_route,
            create_route=create_route,
            replace_route=replace_route,
            update_route=update_route,
            delete_route=delete_route,
        )

    def _add_routes(self, table: str, **switches: RouteSwitch) -> None:
        res = self.resource
        noun = res.info.resource
        base = "" if self.prefix else "/"
        item = "/{item_id}"
        page_model: Any = Page[self.schema]  # type: ignore[name-defined]
        specs: list[tuple[str, str, str, Any, Any, int, Responses, str]] = [
            ("list_route", base, "GET", make_list, page_model, 200, {}, f"List {table}"),
            (
                "get_route",
                item,
                "GET",
                endpoints.make_get,
                self.schema,
                200,
                _NOT_FOUND,
                f"Get one {noun}",
            ),
            (
                "create_route",
                base,
                "POST",
                endpoints.make_create,
                self.schema,
                201,
                _CONFLICT,
                f"Create a {noun}",
            ),
            (
                "replace_route",
                item,
                "PUT",
                endpoints.make_replace,
                self.schema,
                200,
                {**_NOT_FOUND, **_CONFLICT},
                f"Replace a {noun}",
            ),
            (
                "update_route",
                item,
                "PATCH",
                endpoints.make_update,
                self.schema,
                200,
                {**_NOT_FOUND, **_CONFLICT},
                f"Update part of a {noun}",
            ),
            (
                "delete_route",
                item,
                "DELETE",
                endpoints.make_delete,
                None,
                204,
                {**_NOT_FOUND, **_CONFLICT},
                f"Delete a {noun}",
            ),
        ]
        for switch, path, method, factory, response_model, status, responses, summary in specs:
            setting = switches[switch]
            if setting is False:
                continue
            if not isinstance(setting, bool | Sequence) or isinstance(setting, str):
                raise ConfigurationError(
                    f"{switch} must be True, False or a list of dependencies, got {setting!r}"
                )
            route_deps = [] if isinstance(setting, bool) else list(setting)
            name = f"{switch.removesuffix('_route')}_{table}"
            with self.routes.generating():
                self.add_api_route(
                    path,
                    factory(res, name),
                    methods=[method],
                    response_model=response_model,
                    status_code=status,
                    responses={**responses, **_UNAVAILABLE},
                    dependencies=route_deps,
                    summary=summary,
                    name=name,
                )
            if switch == "list_route":
                route = self.routes[-1]
                assert isinstance(route, APIRoute)
                reserved = {"offset", "limit", "sort", "fields", "count", "cursor", "q"}
                clash = reserved & {s.alias for s in res.listing.filters}
                if clash:
                    raise ConfigurationError(f"filter names clash with list parameters: {clash}")
                res.listing.allowed_params = allowed_query_names(route.dependant)


def _secret(secret: bytes | str | None) -> bytes:
    if secret is None:
        return PROCESS_SECRET
    return secret.encode() if isinstance(secret, str) else secret
