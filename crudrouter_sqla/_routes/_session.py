"""The ``session`` option: an async session dependency, checked when the router is built.

The routes await everything they do on the session, so they need an `AsyncSession`. A
synchronous `sqlalchemy.orm.Session` (FastAPI's tutorial ``def get_db(): ... yield session``)
is refused when the router is built where that can be seen (a sessionmaker, a synchronous
generator, a ``Session`` annotation), and answered with a 500 whose detail and log say what to
pass where only the request shows it (an unannotated plain function).
"""

import inspect
import logging
import typing
from typing import Annotated, Any

from fastapi import Depends, HTTPException, params
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ConfigurationError

logger = logging.getLogger("crudrouter_sqla")

WHAT_TO_PASS = (
    "pass session=db.session (a crudrouter_sqla.core.Database), or an async dependency that "
    "yields an sqlalchemy.ext.asyncio.AsyncSession"
)


def _name(dep: Any) -> str:
    return getattr(dep, "__qualname__", None) or type(dep).__qualname__


def _mentions_sync_session(annotation: Any) -> bool:
    """Whether a type (``Session``, ``Iterator[Session]``, ``Annotated[...]``) names a sync
    `Session` and no `AsyncSession`."""
    found: list[type[Any]] = []
    todo = [annotation]
    while todo:
        item = todo.pop()
        if isinstance(item, type):
            found.append(item)
        todo.extend(typing.get_args(item))
    sync = any(issubclass(t, Session) for t in found)
    return sync and not any(issubclass(t, AsyncSession) for t in found)


def _returns_sync_session(func: Any) -> bool:
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # unresolvable annotations say nothing either way
        return False
    return "return" in hints and _mentions_sync_session(hints["return"])


def _refuse(dep: Any, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"session={_name(dep)!s} {why}; CRUDRouter needs an AsyncSession: {WHAT_TO_PASS}"
    )


def session_dependency(dep: Any, default: Any) -> Any:
    """The dependency the routes use for ``session=dep``: checked, and wrapped so that a
    synchronous session met at request time is a clear error rather than a ``TypeError``."""
    if dep is None:
        return default
    if typing.get_origin(dep) is Annotated:  # the alias itself, such as core.Session
        depends = [m for m in typing.get_args(dep)[1:] if isinstance(m, params.Depends)]
        if not depends or depends[-1].dependency is None:
            raise _refuse(dep, "is an Annotated type without Depends(...)")
        dep = depends[-1].dependency
    if isinstance(dep, sessionmaker):
        raise _refuse(dep, "is a sessionmaker of synchronous sessions")
    if isinstance(dep, async_sessionmaker):
        raise ConfigurationError(
            "session= is an async_sessionmaker: its sessions would never be committed or closed; "
            + WHAT_TO_PASS
        )
    if isinstance(dep, type) and issubclass(dep, Session | AsyncSession):
        raise _refuse(dep, "is a session class, not a dependency")
    if not callable(dep):
        raise ConfigurationError(f"session must be a dependency (callable), got {dep!r}")
    if getattr(dep, "__crudrouter_sqla_session__", False):
        database = getattr(dep, "__crudrouter_sqla_database__", None)
        if database is not None:
            check_dialect(database.url.get_backend_name(), database.safe_url)
        return dep  # db.session, db.primary_session, core.default_session
    func = dep if inspect.isroutine(dep) else getattr(dep, "__call__", dep)  # noqa: B004
    if inspect.isgeneratorfunction(func):
        raise _refuse(dep, "is a synchronous generator, which gives a synchronous Session")
    if _returns_sync_session(func):
        raise _refuse(dep, "is annotated to give a synchronous Session")
    return _checked(dep)


SUPPORTED_DIALECTS = {
    "postgresql": "PostgreSQL",
    "sqlite": "SQLite",
    "mariadb": "MariaDB",
    "mysql": "MySQL",
}


def check_dialect(dialect: str, url: str) -> None:
    """Refuse a database the routes cannot serve correctly (their SQL, error translation and
    write paths are written and tested for these dialects only)."""
    if dialect not in SUPPORTED_DIALECTS:
        raise ConfigurationError(
            f"CRUDRouter cannot serve the {dialect!r} dialect ({url}); it serves PostgreSQL, "
            "SQLite, MariaDB (10.11 or newer) and MySQL (8 or newer)"
        )


def _checked(dep: Any) -> Any:
    async def session(value: Annotated[Any, Depends(dep)]) -> AsyncSession:
        if isinstance(value, AsyncSession):
            return value
        message = (
            f"the session dependency {_name(dep)} gave a {type(value).__module__}."
            f"{type(value).__qualname__}, not an AsyncSession; {WHAT_TO_PASS}"
        )
        logger.error("CRUDRouter misconfigured: %s", message)
        raise HTTPException(status_code=500, detail=f"Server misconfigured: {message}")

    session.__crudrouter_sqla_session__ = True  # type: ignore[attr-defined]
    return session
