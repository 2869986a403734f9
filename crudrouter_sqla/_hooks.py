"""`Hooks`: business logic around the generated writes, inside the request's transaction."""

from __future__ import annotations

import inspect
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import ConfigurationError

HOOK_NAMES = (
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
)

# The arguments the routes pass to each hook, positionally and after ``self``.
_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "before_create": ("session: AsyncSession", "values: dict[str, Any]"),
    "after_create": ("session: AsyncSession", "item: BaseModel"),
    "before_update": ("session: AsyncSession", "item_id: Any", "values: dict[str, Any]"),
    "after_update": ("session: AsyncSession", "item: BaseModel"),
    "before_delete": ("session: AsyncSession", "item_id: Any"),
    "after_delete": ("session: AsyncSession", "item_id: Any"),
}


class Hooks:
    """Code that runs around create, replace, update and delete, in the request's transaction.

    Subclass it, override the methods you need, and pass the class as ``hooks=``. The router
    uses the class as a FastAPI dependency, created once per request, so its ``__init__`` may
    declare dependencies of its own (the current user, a settings object) exactly as an
    endpoint does. Every method is async and gets the request's session:

    - ``before_*`` run before the write. ``values`` is the dict of column values about to be
      written, with the relationship values the request sets beside them (key lists such as
      ``values["tags"]``, child bodies); change it in place to change what is written (the
      router's ``stamp``, tenant and parent key are written over it afterwards). Raise
      `fastapi.HTTPException` to refuse: its status and detail reach the client and nothing
      is written.
    - ``after_*`` run after the write, still inside the transaction: raising rolls it back.
      ``item`` is the written row as the read schema.

    Hooks see only rows the request may see: the router's scope, tenancy and soft delete are
    applied first, so a row outside them is a 404 before any hook runs. A bulk insert runs the
    create hooks once per row. A bulk update or delete is one statement over every matching
    row and runs no hooks, so a router refuses (`ConfigurationError`) a `Hooks` class that
    defines the update or delete hooks together with ``bulk_update_route`` or
    ``bulk_delete_route``. A hook the routes could not call (not ``async def``, or unable to
    take the arguments below) is a `ConfigurationError` when the router is built, naming the
    hook and the signature the routes call it with.

    Example:
        ```python
        from typing import Annotated, Any

        from fastapi import Depends, HTTPException, Header
        from sqlalchemy.ext.asyncio import AsyncSession

        from crudrouter_sqla import Hooks


        def current_user(x_user: Annotated[str, Header()] = "anonymous") -> str:
            return x_user


        class OwnedNotes(Hooks):
            def __init__(self, user: Annotated[str, Depends(current_user)]) -> None:
                self.user = user

            async def before_create(self, session: AsyncSession, values: dict[str, Any]) -> None:
                values["owner"] = self.user

            async def before_delete(self, session: AsyncSession, item_id: Any) -> None:
                if self.user == "anonymous":
                    raise HTTPException(status_code=403, detail="Sign in to delete notes")
        ```
    """

    async def before_create(self, session: AsyncSession, values: dict[str, Any]) -> None:
        """Before a row is inserted (POST, a bulk insert per row, an upserting PUT)."""

    async def after_create(self, session: AsyncSession, item: BaseModel) -> None:
        """After a row was inserted."""

    async def before_update(
        self, session: AsyncSession, item_id: Any, values: dict[str, Any]
    ) -> None:
        """Before a row is replaced (PUT) or updated (PATCH); ``values`` holds only what is
        written (for PATCH, the fields sent)."""

    async def after_update(self, session: AsyncSession, item: BaseModel) -> None:
        """After a row was replaced or updated."""

    async def before_delete(self, session: AsyncSession, item_id: Any) -> None:
        """Before a row is deleted (or marked deleted)."""

    async def after_delete(self, session: AsyncSession, item_id: Any) -> None:
        """After a row was deleted (or marked deleted)."""


def overridden(hooks: type[Hooks] | None) -> frozenset[str]:
    """The hook methods a class overrides; the others are skipped at no cost."""
    if hooks is None:
        return frozenset()
    return frozenset(
        name for name in HOOK_NAMES if getattr(hooks, name) is not getattr(Hooks, name)
    )


def check_hooks(hooks: type[Hooks] | None) -> None:
    """Refuse, when the router is built, a hook the routes could not call: one that is not
    async, or that cannot take the arguments the routes pass (each request would be a 500)."""
    if hooks is None:
        return
    for name in sorted(overridden(hooks)):
        problem = _call_problem(hooks, name)
        if problem is not None:
            expected = f"async def {name}(self, {', '.join(_ARGUMENTS[name])}) -> None"
            raise ConfigurationError(
                f"{hooks.__name__}.{name} {problem}; the routes call it as {expected}"
            )


def _call_problem(hooks: type[Hooks], name: str) -> str | None:
    """What keeps the routes from awaiting ``hooks(...).name(*arguments)``, or ``None``."""
    static = inspect.getattr_static(hooks, name)
    if isinstance(static, staticmethod | classmethod):
        bound = False  # the instance is not passed
    elif inspect.isfunction(static):
        bound = True
    elif callable(static):
        return None  # another kind of callable: nothing sure to check it against
    else:
        return f"is {static!r}, not a method"
    method = getattr(hooks, name)
    if not inspect.iscoroutinefunction(inspect.unwrap(method)):
        return "is not async (define it with async def)"
    signature = inspect.signature(method)
    arguments: list[Any] = [None] * (len(_ARGUMENTS[name]) + bound)
    try:
        signature.bind(*arguments)
    except TypeError:
        empty = inspect.Parameter.empty
        bare = [p.replace(annotation=empty) for p in signature.parameters.values()]
        return f"takes {signature.replace(parameters=bare, return_annotation=empty)}"
    return None
