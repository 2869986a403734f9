"""Read replicas: a session that reads from a replica until it writes.

A request that only reads (GET, HEAD, OPTIONS) gets a session marked with one replica; its
statements run there until the first write, flush or ``SELECT ... FOR UPDATE``, which pins the
session to the primary for the rest of the request. Requests that write (POST, PUT, PATCH,
DELETE) and `Database.open_session()` start pinned, so all their work, reads included, is one
transaction on the primary.
"""

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

REPLICA_KEY = "crudrouter_sqla.replica"
"""``session.info`` key of the replica engine a session reads from; absent: the primary."""

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

AUTOCOMMIT_READS_KEY = "crudrouter_sqla.autocommit_reads"
"""``session.info`` key set on the session of a read-only request whose database can run the
request's generated read statements without ``BEGIN`` and ``COMMIT`` (see `read_connection`)."""
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


async def read_connection(session: Any) -> None:
    """Open the connection of a read-only request's session without a transaction block.

    On PostgreSQL at READ COMMITTED every statement sees its own snapshot, inside a transaction
    block or not, so a read-only request gains nothing from ``BEGIN`` and ``COMMIT`` but two
    round trips. The generated read routes call this before their first statement; it does
    nothing when the session has already begun (a dependency used it first) or when the
    session dependency did not mark the session (another method, another database, PgBouncer,
    an isolation level of the user's, an overridden session dependency).
    """
    sync = session.sync_session
    if sync.info.pop(AUTOCOMMIT_READS_KEY, False) and not sync.in_transaction():
        await session.connection(execution_options=AUTOCOMMIT)


def writes(clause: Any) -> bool:
    """Whether a statement changes data or locks rows, so it belongs on the primary."""
    if clause is None:
        return False
    if getattr(clause, "is_dml", False):
        return True
    return getattr(clause, "_for_update_arg", None) is not None


class RoutingSession(Session):
    """A `Session` whose reads go to ``info[REPLICA_KEY]`` until it first writes.

    The SQLAlchemy recipe for primary/replica routing (``Session.get_bind``), with one change:
    once a session writes, it stays on the primary, so its reads see its writes.
    """

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Any:
        replica: Engine | None = self.info.get(REPLICA_KEY)
        if replica is not None:
            if not (self._flushing or writes(clause)):
                return replica
            del self.info[REPLICA_KEY]
        return super().get_bind(mapper, clause=clause, **kw)


def pin_to_primary(session: Any) -> None:
    """Send every later statement of ``session`` (an `AsyncSession` or `Session`) to the
    primary; statements it already ran on a replica are not repeated."""
    sync = getattr(session, "sync_session", session)
    sync.info.pop(REPLICA_KEY, None)
