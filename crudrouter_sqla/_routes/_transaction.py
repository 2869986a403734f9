"""The request transaction of a generated route: opened by the route itself where it can be.

A route whose session comes from a `Database` (``session=db.session``) opens the request's
transaction itself: the same `Database.request_transaction` the dependency would open,
committed before the endpoint returns its response, without FastAPI solving a generator
dependency for it on every request.

The dependency stays the contract:

- when another dependency of the request took the session (``scope``, ``stamp``, hooks, a
  route or router dependency, one added by ``include_router``), the route uses that session,
  so the request is still one transaction;
- when the app overrides it (``app.dependency_overrides``, as tests do) with another
  `Database`'s session dependency, the route opens that one's transaction; with a function of
  its own, the route asks FastAPI for the session, through a route built for that on the first
  such request (FastAPI then calls the override for the route even if another dependency of
  the request called it too).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Annotated, Any

from fastapi import Depends, Request, Response, params
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from ..core._database import REQUEST_SESSIONS_KEY
from ._params import param, with_signature
from ._query_params import QueryAllowlist, refuse_unknown, refusing_unknown_query
from ._resource import Endpoint

_KWARGS = "crudrouter_sqla.kwargs"


def _depends(annotation: Any) -> Any:
    """The dependency an ``Annotated[..., Depends(f)]`` parameter names, or None."""
    if typing.get_origin(annotation) is not Annotated:
        return None
    for meta in typing.get_args(annotation)[1:]:
        if isinstance(meta, params.Depends):
            return meta.dependency
    return None


def own_transaction(endpoint: Endpoint, allowlist: QueryAllowlist | None = None) -> Endpoint:
    """``endpoint`` opening its session's transaction itself when its session dependency is a
    `Database`'s (see the module), and refusing, first, a query parameter ``allowlist`` does not
    name (when given; see `refusing_unknown_query`); otherwise ``endpoint`` with that check
    alone, or unchanged."""
    signature = inspect.signature(endpoint)
    session_param = signature.parameters.get("session")
    dependency = None if session_param is None else _depends(session_param.annotation)
    if getattr(dependency, "__crudrouter_sqla_open__", None) is None:
        return endpoint if allowlist is None else refusing_unknown_query(endpoint, allowlist)
    wants_request = "request" in signature.parameters
    overridden = _Overridden(endpoint, dependency)

    async def route(**kwargs: Any) -> Response:
        request: Request = kwargs["request"] if wants_request else kwargs.pop("request")
        if allowlist is not None:
            refuse_unknown(request, allowlist)
        source = dependency
        overrides = request.app.dependency_overrides
        if overrides:
            source = overrides.get(dependency, dependency)
        shared = request.scope.get(REQUEST_SESSIONS_KEY)
        if shared and source in shared:
            # Another dependency of the request (the scope, hooks, a route dependency) took
            # the session: the route works in that one transaction, which FastAPI commits.
            shared_response: Response = await endpoint(session=shared[source], **kwargs)
            return shared_response
        opener = getattr(source, "__crudrouter_sqla_open__", None)
        if opener is None:  # an override of the app's own
            return await overridden(request, kwargs)
        async with opener(request) as session:
            response: Response = await endpoint(session=session, **kwargs)
        return response

    others = [p for p in signature.parameters.values() if p.name != "session"]
    new_params = others if wants_request else [param("request", Request), *others]
    route.__signature__ = signature.replace(parameters=new_params)  # type: ignore[attr-defined]
    route.__name__ = route.__qualname__ = endpoint.__name__
    # FastAPI reads the route's signature; the endpoint's own is not read again.
    del endpoint.__signature__  # type: ignore[attr-defined]
    return route


class _Overrides:
    """The overrides of the app serving the current request, for the route `_Overridden`
    builds (FastAPI asks its ``dependency_overrides_provider`` on each request)."""

    current: ContextVar[dict[Any, Any]] = ContextVar("crudrouter_sqla_overrides")

    @property
    def dependency_overrides(self) -> dict[Any, Any]:
        return self.current.get()


class _Overridden:
    """The endpoint with its session from FastAPI, for an app that overrides the session
    dependency: the session is solved by a small route of its own, built on first use."""

    __slots__ = ("dependency", "endpoint", "handler")

    def __init__(self, endpoint: Endpoint, dependency: Any) -> None:
        self.endpoint = endpoint
        self.dependency = dependency
        self.handler: Any = None

    def _build(self) -> Any:
        endpoint = self.endpoint

        async def with_session(request: Request, session: AsyncSession) -> Response:
            response: Response = await endpoint(session=session, **request.scope[_KWARGS])
            return response

        session = Annotated[AsyncSession, Depends(self.dependency)]
        with_signature(
            with_session,
            [param("request", Request), param("session", session)],
            endpoint.__name__,
        )

        route = APIRoute("/", with_session, dependency_overrides_provider=_Overrides())
        return route.get_route_handler()

    async def __call__(self, request: Request, kwargs: dict[str, Any]) -> Response:
        if self.handler is None:
            self.handler = self._build()
        token = _Overrides.current.set(request.app.dependency_overrides)
        request.scope[_KWARGS] = kwargs
        try:
            response: Response = await self.handler(request)
        finally:
            del request.scope[_KWARGS]
            _Overrides.current.reset(token)
        return response


@asynccontextmanager
async def request_session(
    dependency: Any, request: Request, given: AsyncSession
) -> AsyncIterator[AsyncSession]:
    """A session for work done after the endpoint returns, while its response is sent (an
    export's body): a new transaction of the session dependency's `Database` (or of the
    `Database` an override names), else ``given``, the session the request got, which a
    dependency of its own keeps open until the response is sent unless it is scoped to the
    function."""
    source = dependency
    overrides = request.app.dependency_overrides
    if overrides:
        source = overrides.get(dependency, dependency)
    opener = getattr(source, "__crudrouter_sqla_open__", None)
    if opener is None:
        yield given
        return
    async with opener(request) as session:
        yield session
