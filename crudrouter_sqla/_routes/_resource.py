"""`Resource`: everything the routes of one router share, fixed when the router is built."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Response
from pydantic import BaseModel

from .._guard import Tenancy
from .._hooks import Hooks
from .._model import ModelInfo, Parent, Reference, SoftDelete, WritePlan
from .._query import DEFAULT_MAX_OFFSET, ListSpec, Queries
from ._serialize import Serializer

Endpoint = Callable[..., Awaitable[Response]]
JSON = "application/json"


@dataclass(frozen=True)
class Resource:
    """The parts a router assembles and its routes read: the model, its statements, the
    list language, the serializer, the write plans and the request dependencies."""

    info: ModelInfo
    queries: Queries
    serializer: Serializer
    create_schema: type[BaseModel]
    replace_schema: type[BaseModel]
    update_schema: type[BaseModel]
    session: Callable[..., Any]
    filters: Sequence[Callable[..., Any]]
    default_limit: int
    max_limit: int
    listing: ListSpec
    create_plan: WritePlan
    update_plan: WritePlan
    parent: Parent | None = None
    scope: Callable[..., Any] | None = None
    stamp: Callable[..., Any] | None = None
    require_if_match: bool = False
    max_offset: int = DEFAULT_MAX_OFFSET
    soft: SoftDelete | None = None
    expose_deleted: bool = True
    hooks: type[Hooks] | None = None
    hook_names: frozenset[str] = frozenset()
    upsert: bool = False
    max_bulk: int = 1000
    conflict_target: tuple[str, ...] = ()
    unfiltered_writes: bool = False
    tenancy: Tenancy | None = None
    tenant_key: str | None = None
    """The attribute of the tenant column on the router's own model (None: shared)."""
    embedded: frozenset[type[Any]] = frozenset()
    """The models whose rows the read schema embeds (at any depth)."""
    references: tuple[Reference, ...] = ()
    scoped_estimates: bool = False
    ignored_query: frozenset[str] = frozenset()
    """Query parameters every route accepts and ignores (``ignored_query_params``)."""
    params: dict[Any, tuple[Any, ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    """The endpoint parameters the routes share, by kind (see `_params`): built once per
    router."""

    def has_hook(self, name: str) -> bool:
        return name in self.hook_names
