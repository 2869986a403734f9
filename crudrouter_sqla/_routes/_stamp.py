"""``stamp`` given as a mapping of columns to dependencies: one dependency that gives them all,
and the columns it writes known when the router is built."""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigurationError
from ._params import values_of


def stamp_of(
    resource: str, columns: Mapping[str, Any], stamp: Any
) -> tuple[Callable[..., Any] | None, frozenset[str]]:
    """The ``stamp`` dependency and the columns known to be stamped.

    A mapping (``{"owner_id": current_user_id}``) becomes one dependency returning every
    column's value, and its columns are known: the derived write schemas leave them out. A
    dependency returning a dict is kept; its columns are known when its return annotation is a
    ``TypedDict`` (``-> Owned`` with ``class Owned(TypedDict): owner_id: int``), and otherwise
    only per request.
    """
    if stamp is None:
        return None, frozenset()
    if not isinstance(stamp, Mapping):
        return stamp, _declared_columns(resource, columns, stamp)
    unknown = sorted(str(key) for key in stamp if key not in columns)
    if unknown:
        raise ConfigurationError(
            f"stamp names {', '.join(unknown)}, which are not columns of {resource}; "
            f"columns: {', '.join(columns)}"
        )
    bad = sorted(key for key, dep in stamp.items() if not callable(dep))
    if bad:
        raise ConfigurationError(
            f"stamp maps {', '.join(bad)} to something that is not a dependency (callable); "
            "give each column a dependency that returns its value"
        )
    return values_of(stamp), frozenset(stamp)


def _declared_columns(resource: str, columns: Mapping[str, Any], stamp: Any) -> frozenset[str]:
    """The keys of a ``TypedDict`` the stamp dependency is annotated to return, checked."""
    try:
        hints = typing.get_type_hints(stamp)
    except Exception:  # annotations that do not resolve say nothing about the columns
        return frozenset()
    returned: Any = hints.get("return")
    if not typing.is_typeddict(returned):
        return frozenset()
    keys = frozenset(typing.get_type_hints(returned))
    unknown = sorted(keys - set(columns))
    if unknown:
        raise ConfigurationError(
            f"stamp returns {returned.__name__} with {', '.join(unknown)}, which are not "
            f"columns of {resource}; columns: {', '.join(columns)}"
        )
    return keys
