"""``DELETE {prefix}/{item_id}/purge``: remove a row of a soft-deleting router for good.

A route of its own rather than a flag on DELETE: the method says what happens (the row goes, 204,
no body), it sits beside ``POST {prefix}/{item_id}/restore``, and its switch carries its own
dependencies, so that purging can ask more of the caller (an admin) than soft deleting does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Response
from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from .._query import Clause
from ._execute import execute, raise_db_error
from ._items import missing, missing_or_stale
from ._params import context_params, item_ident, key_params, scope_of, with_signature
from ._resource import Endpoint, Resource
from ._versions import IfMatch, if_match_param, parse_if_match


def make_purge(res: Resource, name: str) -> Endpoint:
    """DELETE {prefix}/{item_id}/purge: delete the row for good, whether or not it is
    soft-deleted; 204 with no body.

    The row must be one the request may see but for soft delete: the scope, the tenancy and
    the parent of a nested route apply as on every item route, so a row outside them is the
    404 of an unknown one. A row other rows refer to is the 409 DELETE gives; relationship
    cascades run through the ORM as for DELETE on a router without soft delete.

    The router's ``before_delete`` and ``after_delete`` hooks run around it (for a row that may
    be soft-deleted already): purging is a delete, so a hook that refuses or records deletes
    must not be passed by. A hook that needs to tell the two apart can take the ``Request`` in
    its ``__init__`` and read the route's name (``purge_{item}``).
    """

    async def endpoint(**kwargs: Any) -> Response:
        session: AsyncSession = kwargs["session"]
        ident = item_ident(res, kwargs)
        where = scope_of(res, kwargs)
        match = parse_if_match(res, kwargs.get("if_match"))
        hooks: Any = kwargs.get("hooks")
        if res.has_hook("before_delete"):
            # The hook sees only a row the request may see: a hidden one is a 404 first.
            found = await execute(session, res.queries.exists(ident, where, alive=False))
            if found.first() is None:
                raise await missing(res, session, kwargs)
            await hooks.before_delete(session, ident)
        if not await _purge(res, session, ident, where, match):
            raise await missing_or_stale(res, session, kwargs, where, match, alive=False)
        if res.has_hook("after_delete"):
            await hooks.after_delete(session, ident)
        return Response(status_code=204)

    params = [*key_params(res), *if_match_param(res), *context_params(res, hooks=True)]
    return with_signature(endpoint, params, name)


async def _purge(
    res: Resource, session: AsyncSession, ident: Any, where: Sequence[Clause], match: IfMatch
) -> bool:
    """Delete the row, alive or soft-deleted; whether there was one (at the version If-Match
    names)."""
    conditions = list(where)
    version = res.queries.version
    if version is not None and match.versions is not None:
        conditions.append(version.in_(match.versions))
    if not res.queries.orm_delete:
        by_key = res.queries.by_key(ident)
        statement = delete(res.info.table).where(*by_key, *conditions)
        return bool((await execute(session, statement, "delete")).rowcount)
    # Relationship cascades run only through the ORM: load, then delete.
    load = res.queries.orm_one(ident, conditions, alive=False)
    obj = (await execute(session, load)).scalars().first()
    if obj is None:
        return False
    await session.delete(obj)
    try:
        await session.flush()
    except (SQLAlchemyError, OverflowError) as exc:
        raise_db_error(exc, "delete")
    return True
