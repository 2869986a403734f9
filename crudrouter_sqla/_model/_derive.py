"""Write schemas from the model: `write_schema` derives one and lets it grow, and
`harden_write_schema` gives a hand-written one the checks a derived one has.

Both keep what makes a derived schema strict: ``extra="forbid"``, only the JSON types the
document declares, each column's bounds (integer range, text length, no NUL), key lists
bounded by the related key column, and child bodies checked against the child model.
"""

from __future__ import annotations

import types
import typing
import weakref
from collections.abc import Iterable
from typing import Annotated, Any, Optional

from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo
from sqlalchemy import Column
from sqlalchemy import inspect as sa_inspect

from ..errors import ConfigurationError
from ._inspect import ModelInfo, inspect_model, python_type
from ._schemas import (
    _DERIVED,
    _config,
    _key_column,
    _require_basemodel,
    _strict,
    optional_by_column,
    strict_write_field,
)


def write_schema(
    model: type[Any],
    read_schema: type[BaseModel] | None = None,
    *,
    name: str | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    partial: bool = False,
    **fields: Any,
) -> type[BaseModel]:
    """A strict write schema derived from ``model``, to give a router as ``create_schema`` or
    ``update_schema`` when the derived one needs a field more or less.

    It starts from the fields of ``read_schema`` that are writable columns (every column of the
    model without it), leaving out keys the database generates, as the router's own derived
    create schema does; then ``exclude`` drops fields, ``include`` adds columns or to-many
    relationships of the model by name (a relationship becomes the list of the related rows'
    keys), and ``fields`` adds fields of your own as ``pydantic.create_model`` takes them
    (``labels=(list[int], [])``, ``subtasks=(list[SubtaskCreate], [])`` for child bodies).

    Every field keeps the checks the router's derived schemas have: unknown fields are a 422,
    only the JSON types the document declares are accepted, a column's field keeps to the
    column (integer range, text length, no NUL), a key list's items to the related key column,
    and a child body to the child's columns.

    Args:
        model: the SQLAlchemy mapped class.
        read_schema: the read schema to start from; None starts from every column.
        name: the schema's name in the document (default: the model's name + ``Create``, or
            ``Update`` with ``partial``).
        include: columns or to-many relationships of the model to add.
        exclude: fields to leave out.
        partial: every field optional, for an update schema (a PATCH body).
        fields: more fields, as ``create_model`` takes them (a type, or ``(type, default)``).

    Example:
        ```python
        from pydantic import BaseModel, ConfigDict, ValidationError
        from sqlalchemy import Column, ForeignKey, String, Table
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

        from crudrouter_sqla import write_schema


        class Base(DeclarativeBase):
            pass


        task_labels = Table(
            "task_labels",
            Base.metadata,
            Column("task_id", ForeignKey("tasks.id"), primary_key=True),
            Column("label_id", ForeignKey("labels.id"), primary_key=True),
        )


        class Label(Base):
            __tablename__ = "labels"
            id: Mapped[int] = mapped_column(primary_key=True)


        class Task(Base):
            __tablename__ = "tasks"
            id: Mapped[int] = mapped_column(primary_key=True)
            title: Mapped[str] = mapped_column(String(20))
            owner_id: Mapped[int | None]
            labels: Mapped[list[Label]] = relationship(secondary=task_labels)


        class TaskRead(BaseModel):
            model_config = ConfigDict(from_attributes=True)
            id: int
            title: str
            owner_id: int | None


        TaskCreate = write_schema(Task, TaskRead, exclude=["owner_id"], include=["labels"])
        assert set(TaskCreate.model_fields) == {"title", "labels"}
        assert TaskCreate.model_validate({"title": "Ship", "labels": [1, 2]}).labels == [1, 2]
        for bad in ({"title": "x" * 21}, {"title": 7}, {"title": "Ship", "owner_id": 1}):
            try:
                TaskCreate.model_validate(bad)
            except ValidationError:
                pass
            else:
                raise AssertionError(bad)
        ```
    """
    info = inspect_model(model)
    dropped = set(_names("exclude", exclude))
    chosen: dict[str, tuple[Any, FieldInfo]] = {}
    if read_schema is not None:
        _require_basemodel(read_schema, "read_schema")
        for key, field in read_schema.model_fields.items():
            if key in info.columns and key not in info.generated_keys:
                optional = optional_by_column(info, key, field)
                chosen[key] = (field.annotation, FieldInfo.merge_field_infos(field, **optional))
    else:
        for key, column in info.columns.items():
            if key not in info.generated_keys:
                chosen[key] = _column_field(column)
    for key in _names("include", include):
        related_key = None if key in info.columns else _key_column(info, key)
        if key in info.columns:
            chosen[key] = _column_field(info.columns[key])
        elif related_key is not None:
            item = python_type(related_key)
            chosen[key] = (list[item], FieldInfo(default_factory=list))  # type: ignore[valid-type]
        else:
            raise ConfigurationError(
                f"include names {key!r}, which is neither a column nor a to-many relationship "
                f"of {info.resource}; columns: {', '.join(info.columns)}"
            )
    for key, spec in fields.items():
        annotation, default = spec if isinstance(spec, tuple) else (spec, ...)
        field = default if isinstance(default, FieldInfo) else FieldInfo(default=default)
        chosen[key] = (annotation, field)
    unknown = dropped - set(chosen)
    if unknown:
        raise ConfigurationError(
            f"exclude names {sorted(unknown)}, which the schema would not have; "
            f"fields: {', '.join(chosen)}"
        )
    built: dict[str, Any] = {}
    for key, (annotation, field) in chosen.items():
        if key in dropped:
            continue
        field = FieldInfo.merge_field_infos(field, annotation=annotation)
        changes: dict[str, Any] = {"default": None, "default_factory": None} if partial else {}
        built[key] = _hardened_field(info, key, field, **changes)
    config = _config(read_schema.model_config if read_schema is not None else {})
    config.pop("from_attributes", None)
    schema: type[BaseModel] = create_model(
        name or f"{model.__name__}{'Update' if partial else 'Create'}",
        __config__=config,
        __doc__=f"The fields a client sends to {'change' if partial else 'create'} a "
        f"{info.resource}.",
        **built,
    )
    _DERIVED.add(schema)
    _WRITTEN.add(schema)
    return schema


_WRITTEN: weakref.WeakSet[type[BaseModel]] = weakref.WeakSet()
"""The schemas `write_schema` made (no validators of the application's own)."""


def without_fields(schema: type[BaseModel], keys: Iterable[str], name: str) -> type[BaseModel]:
    """A derived ``schema`` (`write_schema`'s) without ``keys``, named ``name``: the router
    leaves out the columns it writes itself (the tenant, stamped columns, the parent key)."""
    dropped = set(keys) & set(schema.model_fields)
    if not dropped or schema not in _WRITTEN:
        # A schema of the application's own keeps its fields (and validators): the router
        # writes its values over what a client sends.
        return schema
    fields: dict[str, Any] = {
        key: (field.annotation, field)
        for key, field in schema.model_fields.items()
        if key not in dropped
    }
    model: type[BaseModel] = create_model(
        name, __config__=schema.model_config, __doc__=schema.__doc__, **fields
    )
    _DERIVED.add(model)
    return model


def harden_write_schema(
    info: ModelInfo, schema: type[BaseModel], role: str = "write schema"
) -> type[BaseModel]:
    """A copy of a hand-written create or update ``schema``, with the same name, whose fields
    keep the checks of a derived schema where they map to the model: column bounds (integer
    range, text length, no NUL), strict JSON types, bounded key lists, checked child bodies.
    Validators, defaults and configuration are inherited, ``extra`` included: what to do with
    unknown fields stays the schema's choice (`write_schema` refuses them)."""
    _require_basemodel(schema, role)
    if schema in _DERIVED or _is_mapped(schema):
        # A mapped class (a SQLModel table model used as a body) cannot be subclassed
        # without mapping the subclass too; its own validation stands.
        return schema
    fields = {key: _hardened_field(info, key, field) for key, field in schema.model_fields.items()}
    hardened: type[BaseModel] = create_model(
        schema.__name__,
        __base__=schema,
        __module__=schema.__module__,
        __doc__=schema.__doc__,
        **fields,
    )
    hardened.__qualname__ = schema.__qualname__
    _DERIVED.add(hardened)
    return hardened


def _is_mapped(schema: type[Any]) -> bool:
    return sa_inspect(schema, raiseerr=False) is not None


def _names(option: str, names: Iterable[str]) -> list[str]:
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ConfigurationError(f"{option} must be a list of field names, got {names!r}")
    return list(names)


def _column_field(column: Column[Any]) -> tuple[Any, FieldInfo]:
    """A field for a column: its Python type, optional where the column is nullable or has a
    default."""
    kind: Any = python_type(column)
    if kind is None:
        raise ConfigurationError(
            f"column {column.name!r} has no Python type to derive a field from; "
            "declare the field yourself"
        )
    if column.nullable:
        return Optional[kind], FieldInfo(default=None)  # noqa: UP045
    if column.default is not None or column.server_default is not None:
        return kind, FieldInfo(default=None)
    return kind, FieldInfo()


def _hardened_field(info: ModelInfo, key: str, field: FieldInfo, **changes: Any) -> Any:
    """The field with the checks of its column, its related key column (a key list) or its
    child model (a list of child bodies)."""
    rel = info.relationships.get(key)
    child = _child_schema(field.annotation) if rel is not None and rel.uselist else None
    if rel is not None and child is not None:
        hardened = harden_write_schema(inspect_model(rel.mapper.class_), child)
        annotation = _swap_item(field.annotation, child, hardened)
        return _strict(annotation, field, **changes)
    return strict_write_field(info, key, field, **changes)


def _child_schema(annotation: Any) -> type[BaseModel] | None:
    """The item model of ``list[ChildCreate]`` (optional or annotated too), else None."""
    for arg in _flatten(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _flatten(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    if not args:
        return [annotation]
    return [leaf for arg in args for leaf in _flatten(arg)]


def _swap_item(annotation: Any, old: type[BaseModel], new: type[BaseModel]) -> Any:
    if annotation is old:
        return new
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is None or not args:
        return annotation
    if origin is Annotated:
        return Annotated[(_swap_item(args[0], old, new), *args[1:])]
    swapped = tuple(_swap_item(arg, old, new) for arg in args)
    if origin is typing.Union or origin is types.UnionType:
        return typing.Union[swapped]  # noqa: UP007
    return origin[swapped if len(swapped) > 1 else swapped[0]]
