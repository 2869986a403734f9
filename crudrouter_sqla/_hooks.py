"""`Hooks`: business logic around the generated writes, inside the request's transaction."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

HOOK_NAMES = (
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
)


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
    ``bulk_delete_route``.

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
