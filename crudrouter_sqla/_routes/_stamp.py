"""``stamp`` given as a mapping of columns to dependencies: one dependency that gives them all,
and the columns it writes known when the router is built."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends

from ..errors import ConfigurationError


def stamp_of(
    resource: str, columns: Mapping[str, Any], stamp: Any
) -> tuple[Callable[..., Any] | None, frozenset[str]]:
    """The ``stamp`` dependency and the columns known to be stamped.

    A mapping (``{"owner_id": current_user_id}``) becomes one dependency returning every
    column's value, and its columns are known: the derived write schemas leave them out. A
    dependency returning a dict is kept; which columns it writes is known only per request.
    """
    if stamp is None or not isinstance(stamp, Mapping):
        return stamp, frozenset()
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
    parameters = [
        inspect.Parameter(
            key, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Any, Depends(dep)]
        )
        for key, dep in stamp.items()
    ]

    async def stamped_values(**values: Any) -> dict[str, Any]:
        return values

    stamped_values.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return stamped_values, frozenset(stamp)
