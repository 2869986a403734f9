"""`CRUDRouter`: one line per model gives a documented REST resource."""

from __future__ import annotations

import typing
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, params
from fastapi.routing import APIRoute
from fastapi.utils import generate_unique_id
from pydantic import BaseModel
from sqlalchemy import UniqueConstraint
from starlette.routing import Match
from starlette.types import Scope

from . import _routes as routes
from ._guard import Tenancy, check_soft_delete, declare_soft_delete, soft_delete_of
from ._hooks import Hooks, check_hooks, overridden
from ._model import (
    Embed,
    Joins,
    ModelInfo,
    SoftDelete,
    build_embeds,
    build_parent,
    build_soft_delete,
    check_read_schema,
    check_write_schema,
    derive_create_schema,
    derive_replace_schema,
    derive_update_schema,
    embedded_models,
    harden_write_schema,
    inspect_model,
    references_of,
    with_soft_values,
    without_fields,
)
from ._query import (
    DEFAULT_ESTIMATE_THRESHOLD,
    DEFAULT_MAX_OFFSET,
    Aggregates,
    CountMode,
    CursorCodec,
    FilterFields,
    ListSpec,
    Queries,
    allowed_query_names,
    build_aggregates,
    build_filter_specs,
    build_search,
    build_sort_keys,
    check_count_mode,
    check_limits,
    check_positive,
)
from ._routes import (
    DEFAULT_MAX_BODY_DEPTH,
    DEFAULT_MAX_BODY_SIZE,
    CRUDRoute,
    Names,
    RouteList,
    Serializer,
    limited_route_class,
    page_model,
    snake,
    stamp_of,
)
from .core import default_session
from .errors import ConfigurationError, ErrorResponse

RouteSwitch = bool | Sequence[params.Depends]
"""``True`` (generate the route), ``False`` (leave it out) or dependencies for it alone."""

Responses = dict[int | str, dict[str, Any]]

_NOT_FOUND: Responses = {404: {"model": ErrorResponse, "description": "No row has this id"}}
_NO_PAGE: Responses = {
    404: {
        "model": ErrorResponse,
        "description": "The cursor names no page of this list (or the parent row is missing)",
    }
}
_CONFLICT: Responses = {409: {"model": ErrorResponse, "description": "A constraint was violated"}}
_TOO_LARGE: Responses = {
    413: {"model": ErrorResponse, "description": "The request body is too large"}
}
_CONDITIONS: Responses = {
    412: {"model": ErrorResponse, "description": "The ETag in If-Match is stale"},
    428: {"model": ErrorResponse, "description": "If-Match is required"},
}
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
        parent: a many-to-one relationship attribute (``Hero.team``) to mount the resource
            under its parent row: ``/teams/{team_id}/heroes``. Every route is then restricted
            to that parent's rows, create takes the foreign key from the path, and an unknown
            parent is a 404.
        tags: OpenAPI tags; default ``[table name]``.
        session: the session dependency, such as ``db.session``; default the core ``Session``.
            It must give an ``AsyncSession``: a synchronous ``Session`` dependency is refused
            (`ConfigurationError`) where it can be told when the router is built, else a 500.
        dependencies: dependencies for every route of the router.
        default_limit: the page size when a client sends no ``limit``.
        max_limit: the largest ``limit`` a client may ask for.
        filters: dependencies returning a SQLAlchemy boolean clause (or ``None``), ANDed into
            the list query and its count.
        filter_fields: the filters the list route accepts, ``{"age": ["gte", "lte"]}``;
            ``"*"`` for an operator list, or a list of names, allows every operator that fits.
            Keys may be dotted paths through relationships: ``{"team.name": ["ilike"]}``
            (to-one paths join, to-many paths such as ``tags.slug`` match rows that have at
            least one related row that matches).
        sort_fields: the fields ``sort`` accepts: columns or to-one paths (``team.name``);
            default every column of the read schema.
        search_fields: text columns (or to-one paths) that ``q`` searches (case-insensitive
            contains, OR-ed).
        count: how ``total`` is counted by default: ``"exact"``, ``"none"`` or
            ``"estimated"`` (PostgreSQL's planner estimate; exact elsewhere, and exact where
            the estimate is below ``estimate_threshold``).
        estimate_threshold: below this many estimated rows, ``estimated`` counts exactly.
        strict_query: refuse (422) query parameters a route does not declare.
        cursor_secret: an HMAC key that signs cursors, for cursors only this app can mint
            (every process must share it). Default: none; cursors then carry a checksum under a
            fixed key, and work on every worker and after restarts.
        max_offset: the deepest ``offset`` the list route accepts (deeper: 422 that points to
            cursor paging).
        max_body_size: the largest request body, in bytes, of create, replace and update (413).
        max_body_depth: how deep a JSON body's arrays and objects may nest (422; at most 128).
        ignored_query_params: query parameters every route accepts and ignores, such as a
            cache-buster ``_`` or ``utm_source``; every other parameter a route does not
            declare is a 422 (with ``strict_query``), so a misspelt or missing option is never
            silently ignored.
        scope: a dependency returning a clause (or None) that restricts the router's own rows
            wherever its requests reach them (every route, references to them, bulk writes and
            upserts); rows outside it behave as rows that do not exist (404).
        stamp: column values that create, replace and update write over what the client
            sent: a mapping of columns to dependencies (``{"owner_id": current_user_id}``),
            whose columns the derived write schemas then leave out, or a dependency returning
            the values (such as ``{"owner_id": user.id}``), whose columns are known (and left
            out) when its return annotation is a ``TypedDict``.
        tenancy: a `Tenancy`: every model that has its column (this one, parents, references,
            embeds, relationship paths) shows only the caller's tenant's rows to this router's
            requests, and writes stamp the column.
        scoped_estimates: let ``count=estimated`` use PostgreSQL's planner estimate under a
            scope or tenancy (default: counted exactly, because the estimate is taken over
            every tenant's rows).
        require_if_match: for a model with a ``version_id_col``, refuse writes without an
            ``If-Match`` header (428).
        soft_delete: a nullable timestamp (or boolean) column that DELETE sets instead of
            removing the row; such rows are 404 to the item routes and hidden from the list,
            and invisible wherever another router reaches the model (a parent, a reference,
            an embed, a path); a router naming another column for the model is refused.
        expose_deleted: with ``soft_delete``, the list's ``deleted=include|only`` parameter
            and ``POST {prefix}/{id}/restore``; ``False`` leaves both out.
        soft_delete_values: other columns a soft delete sets beside its mark, and restore
            clears (to null, or false for a boolean): ``{"deleted_by": current_user_id}``.
            A callable is a dependency, whose value is the request's; anything else (a value,
            a SQL expression such as ``func.now()``) is written as is. The mark alone decides
            whether a row is deleted; these columns are never part of a write schema.
        hooks: a `Hooks` subclass whose methods run around writes, in the transaction; it is
            a FastAPI dependency, so its ``__init__`` may take dependencies.
        upsert: ``PUT`` on a missing row creates it (201); for keys the client chooses.
        conflict_target: the columns of a unique constraint that
            ``POST {prefix}/bulk?on_conflict=ignore|update`` resolves conflicts on (default:
            the primary key, when ``upsert`` is on).
        max_bulk: the most rows one bulk insert takes (more: 422).
        max_related: the most keys (or child bodies) one relationship field of a write body
            may hold (more: 422).
        allow_unfiltered_writes: let ``PATCH {prefix}`` and ``DELETE {prefix}`` touch every
            row when no filter is sent (default: 422).
        list_route, get_route, create_route, replace_route, update_route, delete_route:
            ``True``, ``False`` (route left out) or a list of dependencies for that route alone.
        restore_route: the restore route of a soft-deleting router (as above).
        purge_route: ``DELETE {prefix}/{id}/purge`` of a soft-deleting router, which removes
            a row for good, soft-deleted or not; off unless turned on (as above).
        bulk_create_route, bulk_update_route, bulk_delete_route: ``POST {prefix}/bulk``,
            ``PATCH {prefix}`` and ``DELETE {prefix}`` with filters; off unless turned on.
        aggregates: an `Aggregates` (the fields that may be grouped by, the functions each
            field may take) adds ``GET {prefix}/aggregate``: groups of the rows the list's
            filters pick, with their counts, sums, averages, minimums and maximums.
        export_route: ``GET {prefix}/export``: every row the list's filters pick, in the
            list's order, streamed as newline-delimited JSON or CSV; off unless turned on.
        max_export_rows: the most rows one export writes (more match: 422).
        csv_formulas: write CSV text that starts as a spreadsheet formula would (``=``,
            ``+``, ``-``, ``@``) as it is; by default such text is prefixed with ``'``.
        **kwargs: passed to `fastapi.APIRouter`. Operation ids are named by the router
            (``list_heroes``, ``get_hero``, ...; see the router docs) unless
            ``generate_unique_id_function`` is given.

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
        parent: Any = None,
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
        estimate_threshold: int = DEFAULT_ESTIMATE_THRESHOLD,
        strict_query: bool = True,
        cursor_secret: bytes | str | None = None,
        max_offset: int = DEFAULT_MAX_OFFSET,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_body_depth: int = DEFAULT_MAX_BODY_DEPTH,
        ignored_query_params: Sequence[str] = (),
        scope: Callable[..., Any] | None = None,
        stamp: Callable[..., Any] | Mapping[str, Callable[..., Any]] | None = None,
        tenancy: Tenancy | None = None,
        scoped_estimates: bool = False,
        require_if_match: bool = False,
        soft_delete: str | None = None,
        expose_deleted: bool = True,
        soft_delete_values: Mapping[str, Any] | None = None,
        hooks: type[Hooks] | None = None,
        upsert: bool = False,
        conflict_target: Sequence[str] | None = None,
        max_bulk: int = 1000,
        max_related: int = 1000,
        allow_unfiltered_writes: bool = False,
        list_route: RouteSwitch = True,
        get_route: RouteSwitch = True,
        create_route: RouteSwitch = True,
        replace_route: RouteSwitch = True,
        update_route: RouteSwitch = True,
        delete_route: RouteSwitch = True,
        restore_route: RouteSwitch = True,
        purge_route: RouteSwitch = False,
        bulk_create_route: RouteSwitch = False,
        bulk_update_route: RouteSwitch = False,
        bulk_delete_route: RouteSwitch = False,
        aggregates: Aggregates | None = None,
        export_route: RouteSwitch = False,
        max_export_rows: int = routes.DEFAULT_MAX_EXPORT_ROWS,
        csv_formulas: bool = False,
        **kwargs: Any,
    ) -> None:
        info = inspect_model(model)
        check_limits(default_limit, max_limit)
        check_positive("max_offset", max_offset)
        check_positive("estimate_threshold", estimate_threshold)
        check_positive("max_body_size", max_body_size)
        stamp, stamped = stamp_of(info.resource, info.columns, stamp)
        for option, dep in (("scope", scope), ("stamp", stamp)):
            if dep is not None and not callable(dep):
                raise ConfigurationError(f"{option} must be a dependency (callable), got {dep!r}")
        for dep in filters:
            if not callable(dep):
                raise ConfigurationError(f"filters must be callables (dependencies), got {dep!r}")
        check_positive("max_bulk", max_bulk)
        check_positive("max_export_rows", max_export_rows)
        check_positive("max_related", max_related)
        if hooks is not None and not (isinstance(hooks, type) and issubclass(hooks, Hooks)):
            raise ConfigurationError(f"hooks must be a subclass of Hooks, got {hooks!r}")
        check_hooks(hooks)
        if tenancy is not None and not isinstance(tenancy, Tenancy):
            raise ConfigurationError(f"tenancy must be a Tenancy, got {tenancy!r}")
        soft = _soft_delete(info, soft_delete)
        if purge_route is not False and soft is None:
            raise ConfigurationError(
                "purge_route removes soft-deleted rows for good, but the router has no "
                "soft_delete, so DELETE already removes rows; give soft_delete= or leave "
                "purge_route off"
            )
        tenant_column = None if tenancy is None else tenancy.column_of(model)
        tenant_key = None if tenancy is None or tenant_column is None else tenancy.column
        _refuse_bulk_hooks(hooks, bulk_update_route, bulk_delete_route)
        if upsert and info.pk_generated:
            raise ConfigurationError(
                f"upsert needs a key the client chooses, but {info.resource}'s key "
                f"({', '.join(sorted(info.generated_keys))}) is made by the database"
            )
        target = _conflict_target(info, conflict_target)
        nest = None if parent is None else build_parent(info, parent)
        parent_key = None if nest is None else nest.key
        soft = with_soft_values(
            info, soft, soft_delete_values, tenant=tenant_key, parent=parent_key, stamped=stamped
        )
        if nest is not None and nest.key in routes.RESERVED:
            raise ConfigurationError(f"parent key {nest.key!r} clashes with a route parameter")
        clash = [p.key for p in info.key if info.composite and p.key in routes.RESERVED]
        if clash:
            raise ConfigurationError(f"key columns {clash} clash with route parameters")
        check_read_schema(info, schema)
        embeds = build_embeds(info.model.__mapper__, schema)
        _check_hidden_embeds(schema, embeds, tenancy)
        table = info.table.name
        if prefix is None:
            prefix = f"/{table}"
        if prefix.endswith("/"):
            raise ConfigurationError(f"prefix must not end with '/', got {prefix!r}")
        self.names = Names.build(
            model.__name__, table, prefix, None if nest is None else snake(nest.info.resource)
        )
        # Columns the router writes itself: the parent key, the tenant, the stamped columns a
        # mapping names, the soft-delete mark.
        written = {nest.key} if nest is not None else set()
        written |= {key for key in (tenant_key,) if key is not None} | stamped
        if create_schema is None:
            exclude = frozenset(written | (soft.keys if soft is not None else set()))
            create_schema = derive_create_schema(info, schema, self.names.schema("Create"), exclude)
        else:
            hardened = harden_write_schema(info, create_schema, "create_schema")
            create_schema = without_fields(hardened, written, self.names.schema("Create"))
        create_plan = check_write_schema(info, create_schema, "create_schema")
        if update_schema is None:
            update_schema = derive_update_schema(info, create_schema, self.names.schema("Update"))
        else:
            hardened = harden_write_schema(info, update_schema, "update_schema")
            update_schema = without_fields(hardened, written, self.names.schema("Update"))
        update_plan = check_write_schema(info, update_schema, "update_schema")
        create_plan = replace(create_plan, max_items=max_related)
        update_plan = replace(update_plan, max_items=max_related)
        if soft is not None:
            for role, given in (("create_schema", create_schema), ("update_schema", update_schema)):
                clash = sorted(soft.keys & set(given.model_fields))
                if clash:
                    raise ConfigurationError(
                        f"{role} {given.__name__} writes {clash[0]!r}, a soft-delete column; "
                        f"only DELETE and restore may set it (leave it out of the schema)"
                    )
        if nest is not None:
            prefix = nest.segment + prefix
        self._operations: dict[str, tuple[str, str]] = {}
        kwargs.setdefault("generate_unique_id_function", self._operation_id)
        kwargs.setdefault("route_class", CRUDRoute)
        dependencies = list(dependencies or [])
        if tenancy is not None and tenancy.postgres_setting is not None:
            # Every route of the router, hand-written ones included, sets the tenant's setting.
            session_dep = routes.session_dependency(session, default_session)
            dependencies.append(Depends(tenancy.dependency(session_dep)))
        super().__init__(
            prefix=prefix,
            tags=tags if tags is not None else [table],
            dependencies=dependencies,
            **kwargs,
        )
        self.routes: RouteList = RouteList(self.routes)
        self._static_prefix = self.prefix.partition("{")[0]
        self.model = model
        self.schema = schema
        self.create_schema = create_schema
        self.update_schema = update_schema
        read_fields = list(schema.model_fields)
        joins = Joins(info.model.__mapper__)
        filter_specs = build_filter_specs(info, filter_fields, joins)
        if nest is not None:
            # The path fixes the parent key, so the flat router's filter_fields serve here too:
            # the parent key's filters are dropped, not offered to no purpose.
            filter_specs = [f for f in filter_specs if f.field != nest.key]
        listing = ListSpec(
            info=info,
            joins=joins,
            filters=filter_specs,
            sort_keys=build_sort_keys(info, joins, read_fields, sort_fields, schema),
            search=build_search(info, joins, search_fields),
            read_fields=read_fields,
            count=check_count_mode(count),
            estimate_threshold=estimate_threshold,
            strict=strict_query,
            codec=CursorCodec(table, cursor_secret),
        )
        self.resource = routes.Resource(
            info=info,
            queries=Queries(info, read_fields, embeds, joins, soft, tenant_column),
            serializer=Serializer(schema),
            create_schema=create_schema,
            replace_schema=derive_replace_schema(info, create_schema, self.names.schema("Replace")),
            update_schema=update_schema,
            session=routes.session_dependency(session, default_session),
            filters=tuple(filters),
            default_limit=default_limit,
            max_limit=max_limit,
            listing=listing,
            create_plan=create_plan,
            update_plan=update_plan,
            parent=nest,
            scope=scope,
            stamp=stamp,
            require_if_match=require_if_match,
            max_offset=max_offset,
            soft=soft,
            expose_deleted=expose_deleted,
            hooks=hooks,
            hook_names=overridden(hooks),
            upsert=upsert,
            max_bulk=max_bulk,
            conflict_target=target,
            unfiltered_writes=allow_unfiltered_writes,
            tenancy=tenancy,
            tenant_key=tenant_key,
            embedded=embedded_models(embeds),
            references=references_of(info),
            scoped_estimates=scoped_estimates,
            ignored_query=_names("ignored_query_params", ignored_query_params),
        )
        if soft_delete is not None and soft is not None:
            declare_soft_delete(model, soft)
        self._body_route = limited_route_class(max_body_size, max_body_depth)
        self._aggregates = None if aggregates is None else build_aggregates(info, joins, aggregates)
        self._export = (max_export_rows, csv_formulas)
        self._add_routes(
            table,
            list_route=list_route,
            aggregate_route=False if aggregates is None else list(aggregates.dependencies),
            export_route=export_route,
            get_route=get_route,
            create_route=create_route,
            replace_route=replace_route,
            update_route=update_route,
            delete_route=delete_route,
            restore_route=restore_route if soft is not None and expose_deleted else False,
            purge_route=purge_route,
            bulk_create_route=bulk_create_route,
            bulk_update_route=bulk_update_route,
            bulk_delete_route=bulk_delete_route,
        )

    def _add_routes(self, table: str, **switches: RouteSwitch) -> None:
        res = self.resource
        noun = res.info.resource
        base = "" if self.prefix else "/"
        item = routes.item_path(res)
        page: Any = page_model(self.schema, self.names)
        versioned = res.queries.version is not None
        write: Responses = {**_CONFLICT, **_TOO_LARGE}
        conditional: Responses = _CONDITIONS if versioned else {}
        created: Responses = (
            {201: {"model": self.schema, "description": "Created (the row was missing)"}}
            if res.upsert
            else {}
        )
        aggregate: Any = None
        if self._aggregates is not None:
            models = routes.aggregate_models(self._aggregates, self.names.schema)
            aggregate = partial(routes.make_aggregate, spec=self._aggregates, models=models)
            aggregate_page = models[0]
        else:
            aggregate_page = None
        max_rows, formulas = self._export
        export = partial(routes.make_export, max_rows=max_rows, formulas=formulas)
        specs = [
            _Spec("list_route", base, "GET", routes.make_list, page, 200, _NO_PAGE,
                  f"List {table}"),
            _Spec("aggregate_route", "/aggregate", "GET", aggregate, aggregate_page, 200,
                  _NOT_FOUND, f"Aggregates of groups of {table}"),
            _Spec("export_route", "/export", "GET", export, None, 200,
                  {**_NOT_FOUND, **routes.export_responses(res.serializer.schema.__name__)},
                  f"Export {table}", response_class=routes.ExportResponse),
            _Spec("get_route", item, "GET", routes.make_get, self.schema, 200, _NOT_FOUND,
                  f"Get one {noun}"),
            _Spec("create_route", base, "POST", routes.make_create, self.schema, 201, write,
                  f"Create a {noun}", body=True),
            _Spec("replace_route", item, "PUT", routes.make_replace, self.schema, 200,
                  {**_NOT_FOUND, **write, **conditional, **created}, f"Replace a {noun}",
                  body=True),
            _Spec("update_route", item, "PATCH", routes.make_update, self.schema, 200,
                  {**_NOT_FOUND, **write, **conditional}, f"Update part of a {noun}", body=True),
            _Spec("delete_route", item, "DELETE", routes.make_delete, None, 204,
                  {**_NOT_FOUND, **_CONFLICT, **conditional}, f"Delete a {noun}"),
            _Spec("restore_route", f"{item}/restore", "POST", routes.make_restore, self.schema,
                  200, _NOT_FOUND, f"Restore a deleted {noun}"),
            _Spec("purge_route", f"{item}/purge", "DELETE", routes.make_purge, None, 204,
                  {**_NOT_FOUND, **_CONFLICT, **conditional}, f"Delete a {noun} for good"),
            _Spec("bulk_create_route", "/bulk", "POST", routes.make_bulk_create,
                  list[self.schema], 201, write, f"Create many {table}",  # type: ignore[name-defined]
                  body=True),
            _Spec("bulk_update_route", base, "PATCH", routes.make_bulk_update,
                  routes.BulkCount, 200, write, f"Update every matching {noun}", body=True),
            _Spec("bulk_delete_route", base, "DELETE", routes.make_bulk_delete,
                  routes.BulkCount, 200, _CONFLICT, f"Delete every matching {noun}"),
        ]  # fmt: skip
        if res.parent is not None:
            # Every route of a nested resource answers 404 for an unknown parent.
            parent_missing: Responses = {
                404: {
                    "model": ErrorResponse,
                    "description": "No row (or no parent row) has this id",
                }
            }
            specs = [
                replace(spec, responses={**spec.responses, **parent_missing}) for spec in specs
            ]
        errors = routes.SharedBody(ErrorResponse)
        # The routes that answer one read-schema item (get, create, replace, update, restore)
        # document one shared body too: only one of them hands FastAPI the model.
        answer = routes.SharedBody(routes.documented(self.schema))
        for spec in specs:
            setting = switches[spec.switch]
            if setting is False:
                continue
            if not isinstance(setting, bool | Sequence) or isinstance(setting, str):
                raise ConfigurationError(
                    f"{spec.switch} must be True, False or a list of dependencies, got {setting!r}"
                )
            verb = spec.switch.removesuffix("_route")
            name = self.names.operation_id(verb)
            self._operations[name] = (verb, self.prefix + spec.path)
            endpoint = spec.factory(res, name)
            query = routes.query_of(endpoint)
            allowlist = None
            if query is None and res.listing.strict:
                allowlist = routes.QueryAllowlist()
            endpoint = routes.own_transaction(endpoint, allowlist)
            responses = {**spec.responses, **_UNAVAILABLE}
            if query is not None:
                responses[422] = routes.VALIDATION_ERROR
            responses = routes.sharing_bodies(responses, errors)
            extra = {} if spec.response_class is None else {"response_class": spec.response_class}
            response_model = routes.documented(spec.response_model)
            if spec.response_model is self.schema:
                responses = routes.answering(answer, spec.status, responses)
                response_model = None
                extra["response_class"] = routes.ItemResponse
            with self.routes.generating():
                self.add_api_route(
                    spec.path,
                    endpoint,
                    methods=[spec.method],
                    response_model=response_model,
                    status_code=spec.status,
                    responses=responses,
                    dependencies=[] if isinstance(setting, bool) else list(setting),
                    summary=spec.summary,
                    name=name,
                    route_class_override=self._body_route if spec.body else None,
                    openapi_extra=None if query is None else query.openapi_extra(),
                    **extra,
                )
            route = self.routes[-1]
            assert isinstance(route, APIRoute)
            # Read on the route's first request, not here: reading them builds the route.
            if allowlist is not None:
                allowlist.names_of = partial(_accepted_names, route, res.ignored_query)
            if spec.switch == "list_route":
                assert query is not None
                res.listing.params_of = partial(_list_params, route, query, res.ignored_query)
            elif query is not None:
                query.accepted_of = partial(_accepted_names, route, res.ignored_query)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        """Add a route, as `fastapi.APIRouter` does. A route declared over a generated one
        takes its place in the document: the generated routes of its path take its path
        parameter names, and it takes the replaced route's name, operation id and error
        responses unless it gives its own (see `RouteList.declare`)."""
        if self.routes.is_generating:
            super().add_api_route(path, endpoint, **kwargs)
            self.routes.remember(path, endpoint, kwargs)
            return
        kwargs = self.routes.declare(self.prefix, path, kwargs, self.add_api_route, self._moved)
        super().add_api_route(path, endpoint, **kwargs)

    def _moved(self, name: str, path: str) -> None:
        """The operation named ``name`` is now at ``path`` (its path parameters renamed)."""
        known = self._operations.get(name)
        if known is not None:
            self._operations[name] = (known[0], path)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Whether a request is for one of this router's routes. A path without the prefix's
        leading static part is refused at once, so an app of many routers does not try every
        route of each router in turn."""
        if self._static_prefix and self._static_prefix not in scope.get("path", ""):
            return Match.NONE, {}
        return super().matches(scope)

    def _operation_id(self, route: Any) -> str:
        """The operation id of a route (FastAPI calls this for each route, and again with the
        full path for each place the router is included).

        A prefix the router is included under stays out of the id unless an operation of the
        same app (another router, or this one included elsewhere) took the id first."""
        known = self._operations.get(route.name)
        path: str = route.path
        if known is None or not path.endswith(known[1]):
            return generate_unique_id(route)
        verb, own_path = known
        outer = path[: len(path) - len(own_path)]
        plain = self.names.operation_id(verb)
        holders = _claims(getattr(route, "dependency_overrides_provider", None), plain)
        if holders is None:
            return plain
        if not any(router is self and prefix == outer for router, prefix in holders):
            holders.append((self, outer))
        first, first_prefix = holders[0]
        if first is self and first_prefix == outer:
            return plain
        return self.names.operation_id(verb, outer)


def _accepted_names(route: APIRoute, ignored: frozenset[str]) -> frozenset[str]:
    """The query parameters a route without a query model takes."""
    return allowed_query_names(route.dependant)[0] | ignored


def _list_params(
    route: APIRoute, query: Any, ignored: frozenset[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """The query parameters of a list route, and those of them a client may repeat."""
    allowed, repeatable = allowed_query_names(route.dependant)
    return allowed | query.names | ignored, repeatable | query.repeatable


_CLAIMED: weakref.WeakKeyDictionary[Any, dict[str, list[tuple[CRUDRouter, str]]]] = (
    weakref.WeakKeyDictionary()
)
"""Per app, the routers (and the prefixes they are included under) that asked for each
operation id, first first."""


def _claims(app: Any, operation_id: str) -> list[tuple[CRUDRouter, str]] | None:
    """Who asked for ``operation_id`` in ``app`` (FastAPI gives each route it includes the app
    as its ``dependency_overrides_provider``); None when the route belongs to no app yet."""
    if app is None:
        return None
    try:
        by_id = _CLAIMED.setdefault(app, {})
    except TypeError:  # an object that cannot be weakly referenced
        return None
    return by_id.setdefault(operation_id, [])


@dataclass(frozen=True)
class _Spec:
    switch: str
    path: str
    method: str
    factory: Callable[[routes.Resource, str], routes.Endpoint]
    response_model: Any
    status: int
    responses: Responses
    summary: str
    body: bool = False
    response_class: Any = None


def _soft_delete(info: ModelInfo, key: str | None) -> SoftDelete | None:
    """The router's soft delete, ``soft_delete=``: it rules the router's own routes, and,
    declared for the model, every place another router reaches the model."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise ConfigurationError(f"soft_delete must be a column name, got {key!r}")
    soft = build_soft_delete(info, key)
    check_soft_delete(info.model, soft)
    return soft


def _check_hidden_embeds(
    schema: type[BaseModel], embeds: Sequence[Embed], tenancy: Tenancy | None
) -> None:
    """A to-one embed of a model with rows a request may not see (another tenant's, or
    soft-deleted ones) shows as null; the read schema must allow it, or such a row could not
    be answered."""
    for embed in embeds:
        related = embed.relationship.mapper.class_
        field = schema.model_fields[embed.key]
        hidden = (tenancy is not None and tenancy.column_of(related) is not None) or (
            soft_delete_of(related) is not None
        )
        if hidden and not embed.to_many and not _admits_none(field.annotation):
            raise ConfigurationError(
                f"{schema.__name__}.{embed.key} embeds a {related.__name__}, whose rows may be "
                f"hidden from a request (tenancy or soft delete) and then embed as null; type "
                f"it as {embed.schema.__name__} | None"
            )
        _check_hidden_embeds(embed.schema, embed.children, tenancy)


def _admits_none(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        return _admits_none(typing.get_args(annotation)[0])
    if annotation is None or annotation is type(None) or annotation is Any:
        return True
    return any(_admits_none(member) for member in typing.get_args(annotation))


_BULK_HOOKS = {
    "bulk_update_route": ("before_update", "after_update"),
    "bulk_delete_route": ("before_delete", "after_delete"),
}


def _refuse_bulk_hooks(hooks: type[Hooks] | None, update: RouteSwitch, delete: RouteSwitch) -> None:
    """A bulk update or delete is one statement over every matching row: it cannot run
    per-row hooks, so a router that has both is refused rather than skip them silently."""
    names = overridden(hooks)
    for switch, setting in (("bulk_update_route", update), ("bulk_delete_route", delete)):
        clash = [name for name in _BULK_HOOKS[switch] if name in names]
        if setting is not False and clash:
            raise ConfigurationError(
                f"{switch} writes every matching row in one statement and runs no per-row "
                f"hooks, but hooks define {', '.join(clash)}; turn {switch} off or move "
                f"that logic out of the hooks"
            )


def _names(option: str, names: Sequence[str]) -> frozenset[str]:
    """A list of names an option takes; `ConfigurationError` for a bare string or non-strings."""
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise ConfigurationError(f"{option} must be a list of names, got {names!r}")
    return frozenset(names)


def _conflict_target(info: ModelInfo, columns: Sequence[str] | None) -> tuple[str, ...]:
    """The columns of a unique constraint (or the key) bulk inserts resolve conflicts on."""
    if columns is None:
        return ()
    if isinstance(columns, str):
        columns = [columns]
    missing = [name for name in columns if name not in info.columns]
    if missing:
        raise ConfigurationError(f"conflict_target names columns {info.resource} lacks: {missing}")
    names = {info.columns[name].name for name in columns}
    table = info.table
    unique_sets = [{c.name for c in table.primary_key.columns}]
    unique_sets += [
        {c.name for c in constraint.columns}
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    unique_sets += [{c.name for c in index.columns} for index in table.indexes if index.unique]
    unique_sets += [{c.name} for c in table.columns if c.unique]
    if names not in unique_sets:
        raise ConfigurationError(
            f"conflict_target {list(columns)} is not a unique constraint of {table.name}"
        )
    return tuple(info.columns[name].name for name in columns)
