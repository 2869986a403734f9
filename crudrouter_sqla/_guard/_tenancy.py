"""`Tenancy`: one tenant column, declared once, restricting every model that has it."""

# No postponed annotations: FastAPI reads the dependencies' annotations at run time.

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from sqlalchemy import Column, event, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, Session

from ..core._routing import AUTOCOMMIT_READS_KEY
from ..errors import ConfigurationError

SETTINGS_KEY = "crudrouter_sqla.tenant_settings"
"""``session.info`` key of the PostgreSQL settings a session sets at the start of each of its
transactions (``{"app.tenant_id": "42"}``)."""

_SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True, eq=False)
class Tenancy:
    """A tenant column that every model having it is restricted by.

    Give it to a router as ``tenancy=``: wherever a request of that router reaches a row of a
    model that has ``column`` (its own rows, the parent of a nested route, the rows that
    reference keys in a write name, embedded rows, relationship paths in filters, sorts and
    search, bulk writes and upserts), only rows whose column equals the caller's tenant exist.
    Models without the column are shared. Writes stamp the column with the caller's tenant
    (on the router's own rows and on children created with them); the derived write schemas
    leave it out.

    Args:
        column: the attribute name of the tenant column (``"org_id"``).
        current: a FastAPI dependency that returns the caller's tenant value (it raises, for
            example a 401, when the request has none).
        postgres_setting: on PostgreSQL, a setting (``"app.tenant_id"``) set to the tenant
            value for each transaction of the request (``set_config(name, value, true)``),
            so row-level security policies can enforce the same rule as a second wall,
            hand-written statements on the request's session included.

    Example:
        ```python
        from typing import Annotated

        from fastapi import Header

        from crudrouter_sqla import Tenancy


        def current_org(x_org: Annotated[int, Header()]) -> int:
            return x_org


        tenancy = Tenancy(column="org_id", current=current_org)
        ```
    """

    column: str
    current: Callable[..., Any]
    postgres_setting: str | None = None
    _columns: weakref.WeakKeyDictionary[type[Any], Column[Any] | None] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False
    )
    _dependencies: dict[Any, Callable[..., Any]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column.isidentifier():
            raise ConfigurationError(
                f"Tenancy column must be an attribute name such as 'org_id', got {self.column!r}"
            )
        if not callable(self.current):
            raise ConfigurationError(
                f"Tenancy current must be a dependency (callable), got {self.current!r}"
            )
        setting = self.postgres_setting
        if setting is not None and (not isinstance(setting, str) or not _SETTING.match(setting)):
            raise ConfigurationError(
                "Tenancy postgres_setting must be a custom setting with a dot, such as "
                f"'app.tenant_id', got {setting!r}"
            )

    def column_of(self, model: type[Any]) -> Column[Any] | None:
        """The tenant column of ``model``, or None when the model is shared."""
        try:
            return self._columns[model]
        except KeyError:
            pass
        mapper: Mapper[Any] = inspect(model)
        prop = mapper.column_attrs.get(self.column)
        column: Column[Any] | None = None
        if prop is not None and len(prop.columns) == 1 and isinstance(prop.columns[0], Column):
            column = prop.columns[0]
        self._columns[model] = column
        return column

    def dependency(self, session: Callable[..., Any] | None = None) -> Callable[..., Any]:
        """The FastAPI dependency that gives the caller's tenant, for hand-written routes and
        dependencies (``Depends(tenancy.dependency(db.session))``).

        With ``postgres_setting``, it takes the request's session from ``session`` and sets
        the setting on it for the rest of the request; without it, it is ``current`` checked
        for a value. Each session dependency gets one function, so FastAPI solves it once per
        request however many parts of the request ask for it.
        """
        known = self._dependencies.get(session)
        if known is not None:
            return known
        current = self.current
        if self.postgres_setting is None or session is None:
            # Async, so FastAPI calls it inline rather than in its thread pool.
            async def tenant(value: Annotated[Any, Depends(current)]) -> Any:
                return _checked(value)

            built: Callable[..., Any] = tenant
        else:
            name = self.postgres_setting

            async def tenant_with_setting(
                value: Annotated[Any, Depends(current)],
                db_session: Annotated[AsyncSession, Depends(session)],
            ) -> Any:
                value = _checked(value)
                await apply_setting(db_session, name, str(value))
                return value

            built = tenant_with_setting
        self._dependencies[session] = built
        return built


def _checked(value: Any) -> Any:
    if value is None:
        raise HTTPException(status_code=403, detail="The request has no tenant")
    return value


async def apply_setting(session: AsyncSession, name: str, value: str) -> None:
    """Set a PostgreSQL setting for every transaction of ``session`` (other databases: no-op)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    sync = session.sync_session
    settings: dict[str, str] = sync.info.setdefault(SETTINGS_KEY, {})
    settings[name] = value
    # A transaction-local setting needs a transaction: no autocommit reads for this request.
    sync.info.pop(AUTOCOMMIT_READS_KEY, None)
    if sync.in_transaction():
        await session.execute(select(func.set_config(name, value, True)))


@event.listens_for(Session, "after_begin")
def _set_on_begin(session: Session, _transaction: Any, connection: Any) -> None:
    settings = session.info.get(SETTINGS_KEY)
    if settings and connection.dialect.name == "postgresql":
        for name, value in settings.items():
            connection.execute(select(func.set_config(name, value, True)))
