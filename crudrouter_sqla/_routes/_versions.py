"""Optimistic concurrency: ETags from the mapper's ``version_id_col`` and ``If-Match``.

GET answers with ``ETag: "<version>"``; PUT, PATCH and DELETE honour ``If-Match`` (a stale
version is 412) and, when the router asks for it, require it (missing: 428). A model without a
version column has neither.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, HTTPException
from pydantic import ValidationError

from .._model import adapter_for, column_bounds
from ._resource import Resource

MAX_IF_MATCH = 1000


@dataclass(frozen=True)
class IfMatch:
    """A parsed If-Match: ``versions`` is None when the write is unconditional."""

    versions: list[Any] | None = None


UNCONDITIONAL = IfMatch()


def etag(version: Any) -> str:
    """The strong ETag of a version."""
    return f'"{version}"'


def if_match_param(res: Resource) -> list[inspect.Parameter]:
    """The If-Match header parameter, for versioned models only."""
    if res.queries.version is None:
        return []
    header = Header(
        alias="If-Match",
        max_length=MAX_IF_MATCH,
        description="The ETag the change is based on; a stale one gives 412."
        + (" Required." if res.require_if_match else ""),
    )
    return [
        inspect.Parameter(
            "if_match",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[str | None, header],
            default=None,
        )
    ]


def parse_if_match(res: Resource, value: str | None) -> IfMatch:
    """Turn the header into the versions a write may start from."""
    column = res.queries.version
    if column is None:
        return UNCONDITIONAL
    if value is None:
        if res.require_if_match:
            raise HTTPException(
                status_code=428,
                detail=f"Writes to {res.info.resource} need an If-Match header with its ETag",
            )
        return UNCONDITIONAL
    if value.strip() == "*":
        return UNCONDITIONAL
    adapter = adapter_for(column.type.python_type)
    bounds = column_bounds(column)
    versions = []
    for tag in value.split(","):
        tag = tag.strip()
        # Weak tags never match for If-Match (strong comparison); unreadable ones cannot either.
        if len(tag) < 2 or not (tag.startswith('"') and tag.endswith('"')):
            continue
        try:
            version = adapter.validate_python(tag[1:-1], strict=False)
        except ValidationError:
            continue
        # Nor can a version the column cannot hold: compared in the statement, it would be a
        # database error rather than the 412 of a stale tag.
        if _holds(bounds, version):
            versions.append(version)
    return IfMatch(versions)


def _holds(bounds: dict[str, Any], version: Any) -> bool:
    """Whether a version column with these bounds can hold the version."""
    if isinstance(version, int):
        return bool(bounds.get("ge", version) <= version <= bounds.get("le", version))
    return not (isinstance(version, str) and "\x00" in version)
