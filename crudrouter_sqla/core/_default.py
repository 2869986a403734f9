"""The default database: zero set-up for apps with one database configured by the environment."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ._database import Database
from ._routing import READ_METHODS

_default: Database | None = None


def default_database() -> Database:
    """The database behind `Session`, built from the environment on first use."""
    global _default
    if _default is None:
        _default = Database.from_env()
    return _default


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan of the default database: reads the URL from the environment, checks it, and
    disposes the engine at shutdown.

    Example:
        ```python
        from fastapi import FastAPI

        from crudrouter_sqla.core import lifespan

        app = FastAPI(lifespan=lifespan)
        ```
    """
    global _default
    _default = Database.from_env()
    try:
        async with _default.lifespan(app):
            yield
    finally:
        _default = None


async def _default_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    # With SQLALCHEMY_REPLICA_URLS, read-only requests read from a replica (see Database).
    reads = request.method in READ_METHODS
    async with default_database().request_transaction(replica=reads, read_only=reads) as session:
        yield session


async def default_session(
    session: Annotated[AsyncSession, Depends(_default_transaction, scope="function")],
) -> AsyncSession:
    """The request's session on the default database; committed before the response."""
    return session


default_session.__crudrouter_sqla_session__ = True  # type: ignore[attr-defined]

Session = Annotated[AsyncSession, Depends(default_session)]
"""The request's `AsyncSession` on the default database, committed before the response is sent.

Example:
    ```python
    from fastapi import FastAPI
    from sqlalchemy import text

    from crudrouter_sqla.core import Session, lifespan

    app = FastAPI(lifespan=lifespan)

    @app.get("/ping")
    async def ping(session: Session) -> int:
        return (await session.execute(text("select 1"))).scalar_one()
    ```
"""
