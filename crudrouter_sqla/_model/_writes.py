"""Write plans: which fields of a create or update schema are columns, and which write a
relationship (a list of related keys, or a list of child rows).

Checked once when the router is built; a field the router could not write raises
`ConfigurationError` instead of being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column
from sqlalchemy.orm import RelationshipProperty

from ..errors import ConfigurationError
from ._inspect import ModelInfo, inspect_model, python_type
from ._references import Reference, references_of
from ._relations import embedded_schema, list_item


@dataclass(frozen=True)
class KeyList:
    """A to-many relationship written as the list of the related rows' keys (``tags``).

    For a many-to-many relationship the association rows are replaced; for a one-to-many one
    the children's foreign key is pointed at the parent (and cleared on the others).
    """

    key: str
    related: ModelInfo
    secondary: Any
    """The association table of a many-to-many relationship (else None)."""
    parent_column: Any
    """Where the parent's value goes: an association column, or the children's foreign key."""
    related_column: Any
    """The association column that holds the related key (many-to-many only)."""


@dataclass(frozen=True)
class ChildList:
    """A one-to-many relationship written as a list of child bodies, created with the parent."""

    key: str
    related: ModelInfo
    foreign_key: Column[Any]
    schema: type[BaseModel]
    columns: dict[str, Column[Any]]
    references: tuple[Reference, ...] = ()
    """The children's other foreign keys, checked as the parent's own are."""


@dataclass(frozen=True)
class WritePlan:
    """The relationship fields of one write schema."""

    keys: tuple[KeyList, ...] = ()
    children: tuple[ChildList, ...] = ()
    names: frozenset[str] = field(default_factory=frozenset)
    max_items: int = 1000
    """The most keys or child bodies one relationship field of a body may hold."""

    def split(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Column values, and relationship values (only those the body holds)."""
        if not self.names:
            return values, {}
        relations = {k: values.pop(k) for k in list(values) if k in self.names}
        return values, relations


def _owner_pair(info: ModelInfo, rel: RelationshipProperty[Any], where: str) -> Any:
    """The one column that holds the owner's key in the related (or association) table."""
    pairs = list(rel.synchronize_pairs or ())
    if len(pairs) != 1 or pairs[0][0] is not info.pk_column:
        raise ConfigurationError(
            f"{where}: only relationships that follow {info.resource}'s key ({info.pk_key}) "
            f"with one column can be written"
        )
    return pairs[0][1]


def build_write_plan(info: ModelInfo, schema: type[BaseModel], role: str) -> WritePlan:
    """Check a create or update schema: every field must be a column of the model, or a
    relationship the router can write; `ConfigurationError` names the others."""
    keys: list[KeyList] = []
    children: list[ChildList] = []
    for name, schema_field in schema.model_fields.items():
        if name in info.columns:
            continue
        rel = info.relationships.get(name)
        where = f"{role} {schema.__name__}.{name}"
        if rel is None:
            raise ConfigurationError(
                f"{role} {schema.__name__} has a field {name!r} that is neither a column nor a "
                f"relationship of {info.resource}; columns: {', '.join(info.columns)}"
            )
        if rel.viewonly or not rel.uselist:
            what = "a view-only relationship" if rel.viewonly else "a to-one relationship"
            raise ConfigurationError(
                f"{where} is {what}, which cannot be written through it; write its foreign "
                f"key column instead (such as {name}_id)"
            )
        related = inspect_model(rel.mapper.class_)
        embedded = embedded_schema(schema_field.annotation)
        if embedded is not None:
            nested, is_list = embedded
            if not is_list or rel.secondary is not None:
                raise ConfigurationError(
                    f"{where}: only a one-to-many relationship takes a list of child bodies; "
                    f"send a list of {related.resource} keys ({related.pk_key}) for this one"
                )
            foreign_key = _owner_pair(info, rel, where)
            unknown = [n for n in nested.model_fields if n not in related.columns]
            if unknown:
                raise ConfigurationError(
                    f"{where}: {nested.__name__} has fields that are not columns of "
                    f"{related.resource}: {', '.join(unknown)}"
                )
            columns = {n: related.columns[n] for n in nested.model_fields}
            others = tuple(
                ref for ref in references_of(related) if foreign_key.name not in ref.names
            )
            children.append(ChildList(name, related, foreign_key, nested, columns, others))
            continue
        item = list_item(schema_field.annotation)
        if item is None or item not in (related.pk_type, python_type(related.pk_column)):
            raise ConfigurationError(
                f"{where}: type it as a list of {related.resource} keys "
                f"(list[{related.pk_type.__name__}]) to set the collection, or as a list of a "
                f"Pydantic model of {related.resource}'s columns to create children"
            )
        parent_column = _owner_pair(info, rel, where)
        if rel.secondary is not None:
            pairs = list(rel.secondary_synchronize_pairs or ())
            if len(pairs) != 1 or pairs[0][0] is not related.pk_column:
                raise ConfigurationError(f"{where}: the association must hold the related key")
            keys.append(KeyList(name, related, rel.secondary, parent_column, pairs[0][1]))
        else:
            keys.append(KeyList(name, related, None, parent_column, None))
    names = frozenset(k.key for k in keys) | frozenset(c.key for c in children)
    return WritePlan(tuple(keys), tuple(children), names)
