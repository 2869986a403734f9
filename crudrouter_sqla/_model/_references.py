"""References: the foreign keys of a model, each with the mapped class it refers to, so a write
can check that the rows it names are rows the request may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column

from ._inspect import ModelInfo
from ._relations import Embed


@dataclass(frozen=True)
class Reference:
    """One foreign key of a model.

    Attributes:
        keys: the attribute names of its columns, in the constraint's order.
        names: the column names, as a foreign-key violation names them.
        model: the mapped class of the referenced table.
        targets: the referenced columns, in the same order.
    """

    keys: tuple[str, ...]
    names: tuple[str, ...]
    model: type[Any]
    targets: tuple[Column[Any], ...]


def references_of(info: ModelInfo) -> tuple[Reference, ...]:
    """The foreign keys of a model whose referenced table is mapped in its registry."""
    by_column = {column: key for key, column in info.columns.items()}
    mapped = {
        mapper.local_table: mapper.class_
        for mapper in info.model.__mapper__.registry.mappers
        if mapper.local_table is not None and not mapper.inherits
    }
    found: list[Reference] = []
    for constraint in info.table.foreign_key_constraints:
        model = mapped.get(constraint.referred_table)
        local = list(constraint.columns)
        if model is None or any(column not in by_column for column in local):
            continue
        targets = tuple(element.column for element in constraint.elements)
        found.append(
            Reference(
                tuple(by_column[column] for column in local),
                tuple(column.name for column in local),
                model,
                targets,
            )
        )
    return tuple(found)


def embedded_models(embeds: tuple[Embed, ...]) -> frozenset[type[Any]]:
    """Every mapped class an embedding (or an embedding in it) loads rows of."""
    models: set[type[Any]] = set()
    todo = list(embeds)
    while todo:
        embed = todo.pop()
        models.add(embed.relationship.mapper.class_)
        todo.extend(embed.children)
    return frozenset(models)
