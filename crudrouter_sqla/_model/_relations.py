"""Relationships: dotted paths through them, the joins to-one paths need, and embedded reads.

A path such as ``team.name`` or ``tags.slug`` is read once when the router is built. A path
whose every step is to-one is joined (``LEFT OUTER JOIN``, one alias per step, so a row still
appears once); a path with a to-many step becomes ``EXISTS`` over the related rows.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import Column, ColumnElement, FromClause, and_
from sqlalchemy.orm import (
    Mapper,
    RelationshipProperty,
    aliased,
    joinedload,
    lazyload,
    selectinload,
)
from sqlalchemy.orm.strategy_options import _AbstractLoad

from ..errors import ConfigurationError

Clause = ColumnElement[bool]
MAX_DEPTH = 4
"""The most relationship steps in a path, and the deepest embedding."""
_UNLOADABLE = ("dynamic", "write_only", "noload")


class Restriction(Protocol):
    """What a request may see of any model (`crudrouter_sqla._guard.Visibility`)."""

    def where(self, model: type[Any], selectable: Any = None) -> list[Clause]:
        """The conditions a row of ``model`` (on ``selectable``, an alias) must meet."""
        ...


def is_to_many(rel: RelationshipProperty[Any]) -> bool:
    """Whether a relationship holds a collection."""
    return bool(rel.uselist)


def _column_of(mapper: Mapper[Any], key: str) -> Column[Any] | None:
    prop = mapper.column_attrs.get(key)
    if prop is None or len(prop.columns) != 1:
        return None
    column = prop.columns[0]
    return column if isinstance(column, Column) else None


@dataclass(frozen=True)
class Path:
    """A dotted path through relationships to a column, such as ``team.name``.

    Attributes:
        spelling: the path as written.
        steps: the relationships it crosses, in order.
        column: the column it ends on (on the last related table).
    """

    spelling: str
    steps: tuple[RelationshipProperty[Any], ...]
    column: Column[Any]

    @property
    def to_many(self) -> bool:
        """Whether a step of the path holds a collection (the path then means EXISTS)."""
        return any(is_to_many(rel) or rel.secondary is not None for rel in self.steps)

    @property
    def joins(self) -> tuple[str, ...]:
        """The join prefixes a to-one path needs: ``team``, then ``team.country``."""
        names = self.spelling.split(".")[:-1]
        return tuple(".".join(names[: i + 1]) for i in range(len(names)))


def resolve_path(mapper: Mapper[Any], spelling: str, option: str) -> Path:
    """Read a dotted path from a mapper; raise `ConfigurationError` naming it when it does not
    lead through relationships to a column."""
    parts = spelling.split(".")
    if len(parts) - 1 > MAX_DEPTH:
        raise ConfigurationError(f"{option} path {spelling!r} crosses more than {MAX_DEPTH} steps")
    steps: list[RelationshipProperty[Any]] = []
    current = mapper
    for i, part in enumerate(parts[:-1]):
        rel = current.relationships.get(part)
        if rel is None:
            where = ".".join(parts[:i]) or current.class_.__name__
            known = ", ".join(current.relationships.keys()) or "none"
            raise ConfigurationError(
                f"{option} names {spelling!r}, but {part!r} is not a relationship of {where} "
                f"(relationships: {known})"
            )
        steps.append(rel)
        current = rel.mapper
    column = _column_of(current, parts[-1])
    if column is None:
        known = ", ".join(current.column_attrs.keys())
        raise ConfigurationError(
            f"{option} names {spelling!r}, but {parts[-1]!r} is not a column of "
            f"{current.class_.__name__} (columns: {known})"
        )
    return Path(spelling, tuple(steps), column)


class Joins:
    """The aliased tables of a model's to-one paths, one per path prefix, built once."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        self._aliases: dict[str, tuple[FromClause, Clause, type[Any]]] = {}
        self._order: list[str] = []

    def add(self, path: Path) -> Column[Any] | ColumnElement[Any]:
        """Register the joins of a to-one path; return the column to compare or sort on."""
        parent: FromClause = self.mapper.local_table
        names = path.spelling.split(".")
        for i, rel in enumerate(path.steps):
            prefix = ".".join(names[: i + 1])
            found = self._aliases.get(prefix)
            if found is None:
                target: Any = rel.mapper.local_table
                alias = target.alias(f"_j{len(self._order)}_{target.name}"[:60])
                on = and_(
                    *[
                        alias.c[remote.name] == parent.c[local.name]
                        for local, remote in rel.local_remote_pairs or ()
                    ]
                )
                found = self._aliases[prefix] = (alias, on, rel.mapper.class_)
                self._order.append(prefix)
            parent = found[0]
        return parent.c[path.column.name]

    def apply(
        self, statement: Any, prefixes: Sequence[str], seen: Restriction | None = None
    ) -> Any:
        """Add the LEFT OUTER JOINs for these prefixes (and the prefixes they extend). With
        ``seen``, a related row the request may not see joins as no row: it matches no
        condition and sorts as null."""
        wanted = {p for prefix in prefixes for p in _prefixes(prefix)}
        for prefix in self._order:
            if prefix in wanted:
                alias, on, model = self._aliases[prefix]
                if seen is not None:
                    visible = seen.where(model, alias)
                    if visible:
                        on = and_(on, *visible)
                statement = statement.outerjoin(alias, on)
        return statement


def _prefixes(prefix: str) -> list[str]:
    names = prefix.split(".")
    return [".".join(names[: i + 1]) for i in range(len(names))]


def exists_clause(
    mapper: Mapper[Any],
    path: Path,
    make: Callable[[ColumnElement[Any]], Clause],
    seen: Restriction | None = None,
) -> Clause:
    """``EXISTS`` over the related rows of a path with a to-many step; ``make`` turns the end
    column into the condition a related row must meet. With ``seen``, every step crosses only
    rows the request may see."""
    entities = [aliased(rel.mapper.class_) for rel in path.steps]
    end = getattr(entities[-1], path.spelling.split(".")[-1])
    clause = make(end)
    owners = [mapper.class_, *entities[:-1]]
    for rel, owner, entity in reversed(list(zip(path.steps, owners, entities, strict=True))):
        if seen is not None:
            visible = seen.where(rel.mapper.class_, entity)
            if visible:
                clause = and_(clause, *visible)
        attribute = getattr(owner, rel.key).of_type(entity)
        clause = attribute.any(clause) if is_to_many(rel) else attribute.has(clause)
    return clause


# Embedded reads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Embed:
    """A read-schema field that embeds a relationship, and what it embeds in turn."""

    key: str
    relationship: RelationshipProperty[Any]
    schema: type[BaseModel]
    children: tuple[Embed, ...]

    @property
    def to_many(self) -> bool:
        return is_to_many(self.relationship)

    def loader(self, owner: Any) -> _AbstractLoad:
        """The eager-load option: a join for to-one, one ``SELECT ... IN`` per collection.

        Relationships the schema does not embed are loaded lazily (not by the mapping's own
        eager strategy), so a ``lazy="joined"`` collection cannot multiply rows.
        """
        attribute = getattr(owner, self.key)
        option = selectinload(attribute) if self.to_many else joinedload(attribute)
        target = self.relationship.mapper.class_
        return option.options(*[child.loader(target) for child in self.children], lazyload("*"))


def unwrap(annotation: Any) -> Any:
    """A type without ``Optional`` and ``Annotated`` around it (None for other unions)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return unwrap(members[0]) if len(members) == 1 else None
    if origin is typing.Annotated:
        return unwrap(typing.get_args(annotation)[0])
    return annotation


def list_item(annotation: Any) -> Any:
    """The item type of a list (or other sequence) annotation, unwrapped; None otherwise."""
    annotation = unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, Sequence, set, frozenset):
        args = typing.get_args(annotation)
        return unwrap(args[0]) if args else None
    return None


def embedded_schema(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The Pydantic model a field's type holds, and whether it is a list of them."""
    item = list_item(annotation)
    if item is not None:
        found = embedded_schema(item)
        return (found[0], True) if found is not None and not found[1] else None
    annotation = unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None


def build_embeds(mapper: Mapper[Any], schema: type[BaseModel], depth: int = 0) -> tuple[Embed, ...]:
    """The embedded relationships of a read schema; `ConfigurationError` for one that cannot be
    loaded or that does not match the relationship's shape."""
    embeds: list[Embed] = []
    for name, field in schema.model_fields.items():
        rel = mapper.relationships.get(name)
        if rel is None:
            continue
        where = f"{schema.__name__}.{name}"
        found = embedded_schema(field.annotation)
        if found is None:
            raise ConfigurationError(
                f"{where} is the relationship {mapper.class_.__name__}.{name}; type it as a "
                f"Pydantic model (or a list of one, for a collection) to embed the related rows"
            )
        nested, is_list = found
        if is_list != is_to_many(rel):
            shape = "a list" if is_to_many(rel) else "one object"
            raise ConfigurationError(f"{where}: the relationship holds {shape}; type it so")
        if rel.lazy in _UNLOADABLE:
            raise ConfigurationError(
                f"{where}: a lazy={rel.lazy!r} relationship cannot be loaded eagerly; "
                f"map it with another lazy= or leave it out of the schema"
            )
        if depth >= MAX_DEPTH:
            raise ConfigurationError(f"{where}: embedding is nested deeper than {MAX_DEPTH}")
        for sub in nested.model_fields:
            if not hasattr(rel.mapper.class_, sub):
                raise ConfigurationError(
                    f"{nested.__name__} (embedded as {where}) has a field {sub!r} that "
                    f"{rel.mapper.class_.__name__} lacks"
                )
        children = build_embeds(rel.mapper, nested, depth + 1)
        embeds.append(Embed(name, rel, nested, children))
    return tuple(embeds)
