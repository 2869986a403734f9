"""Nested resources: a many-to-one relationship whose parent row the routes are mounted under
(``/teams/{team_id}/heroes``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Select, select
from sqlalchemy.orm import RelationshipProperty

from ..errors import ConfigurationError
from ._inspect import ModelInfo, column_bounds, inspect_model, python_type


@dataclass(frozen=True)
class Parent:
    """The parent of a nested resource.

    Attributes:
        info: the parent model.
        key: the child's foreign-key attribute, also the path parameter (``team_id``).
        column: the child's foreign-key column.
        target: the parent column it references.
    """

    info: ModelInfo
    key: str
    column: Column[Any]
    target: Column[Any]

    @property
    def segment(self) -> str:
        """The path before the child's own prefix: ``/teams/{team_id}``."""
        return f"/{self.info.table.name}/{{{self.key}}}"

    @property
    def value_type(self) -> type[Any]:
        return python_type(self.target) or str

    def bounds(self) -> dict[str, Any]:
        return column_bounds(self.target)

    def exists(self, value: Any) -> Select[Any]:
        """Select the parent row's key, to tell a missing parent from a missing child."""
        return select(self.target).where(self.target == value)


def build_parent(info: ModelInfo, attribute: Any) -> Parent:
    """Read ``parent=Hero.team``; `ConfigurationError` unless it is a many-to-one relationship
    of the model over one foreign-key column."""
    prop = getattr(attribute, "property", None)
    if not isinstance(prop, RelationshipProperty):
        raise ConfigurationError(
            f"parent must be a relationship attribute of {info.resource}, such as "
            f"{info.resource}.team; got {attribute!r}"
        )
    if prop.parent.class_ is not info.model and not issubclass(info.model, prop.parent.class_):
        raise ConfigurationError(
            f"parent {attribute!r} is a relationship of {prop.parent.class_.__name__}, "
            f"not of {info.resource}"
        )
    if prop.uselist or prop.secondary is not None or prop.direction.name != "MANYTOONE":
        raise ConfigurationError(
            f"parent {info.resource}.{prop.key} must be a many-to-one relationship "
            f"(a foreign key on {info.table.name}), got {prop.direction.name.lower()}"
        )
    pairs = list(prop.local_remote_pairs or ())
    if len(pairs) != 1:
        raise ConfigurationError(
            f"parent {info.resource}.{prop.key} must use one foreign-key column, got {len(pairs)}"
        )
    local, remote = pairs[0]
    key = next((k for k, c in info.columns.items() if c is local), None)
    if key is None or not isinstance(remote, Column):
        raise ConfigurationError(
            f"parent {info.resource}.{prop.key}: its foreign key is not a mapped column"
        )
    return Parent(inspect_model(prop.mapper.class_), key, info.columns[key], remote)
