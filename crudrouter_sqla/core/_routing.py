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
