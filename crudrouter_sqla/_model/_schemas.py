"""Checking the given Pydantic schemas against the model, and deriving the missing ones.

Derived create and update schemas are strict: an unknown field is a 422 naming it
(``extra="forbid"``), and each field takes only the JSON types its documented schema declares
(no ``true`` for an integer, no ``"12"`` for a number, no number for a date), with the bounds of
its column (integer range, text length, no NUL in text) in the document as well.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import types
import typing
import uuid
import weakref
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, create_model
from pydantic.fields import FieldInfo
from sqlalchemy import Column

from ..errors import ConfigurationError
from ._inspect import ModelInfo, column_bounds
from ._writes import WritePlan, build_write_plan

_DERIVED: weakref.WeakSet[type[BaseModel]] = weakref.WeakSet()

NO_NUL = r"^[^\x00]*$"
"""Text a column can hold on every database: PostgreSQL refuses NUL."""


def check_read_schema(info: ModelInfo, schema: type[BaseModel]) -> None:
    """Every field of the read schema must be an attribute of the model."""
    _require_basemodel(schema, "schema")
    missing = [name for name in schema.model_fields if not hasattr(info.model, name)]
    if missing:
        raise ConfigurationError(
            f"{schema.__name__} has fields that {info.resource} lacks: {', '.join(missing)}; "
            f"remove them from the schema or add them to the model"
        )


def check_write_schema(info: ModelInfo, schema: type[BaseModel], role: str) -> WritePlan:
    """Every field of a create or update schema must be a column of the model or a
    relationship the router can write; returns the plan for the relationship fields."""
    _require_basemodel(schema, role)
    return build_write_plan(info, schema, role)


def _require_basemodel(schema: Any, role: str) -> None:
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise ConfigurationError(f"{role} must be a Pydantic model class, got {schema!r}")


# ----------------------------------------------------------------------------- strict JSON types

_STRICT_SCALARS = (bool, int, float, str)
_STRING_ENCODED: tuple[type[Any], ...] = (
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    bytes,
)
_JSON_TYPES: dict[type[Any], tuple[type[Any], ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
}


def _json_guard(value_type: type[Any], accepted: tuple[type[Any], ...]) -> Callable[[Any], Any]:
    """A validator that lets through values of ``value_type`` itself, and JSON values of the
    accepted Python types (``bool`` never counting as a number)."""
    names = " or ".join(sorted({_json_name(t) for t in accepted}))

    def guard(value: Any) -> Any:
        if isinstance(value, value_type):
            return value
        if isinstance(value, bool) and bool not in accepted:
            raise ValueError(f"Input should be a JSON {names}")
        if not isinstance(value, accepted):
            raise ValueError(f"Input should be a JSON {names}")
        return value

    return guard


def _json_name(value_type: type[Any]) -> str:
    return {str: "string", int: "number", float: "number", bool: "boolean"}.get(
        value_type, value_type.__name__
    )


def strict_annotation(annotation: Any) -> Any:
    """``annotation`` with every leaf type limited to the JSON types its schema documents."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return Annotated[(strict_annotation(args[0]), *annotation.__metadata__)]
    if origin is typing.Union or origin is types.UnionType:
        return typing.Union[tuple(strict_annotation(a) for a in args)]  # noqa: UP007
    if origin in (list, set, frozenset) and len(args) == 1:
        return origin[strict_annotation(args[0])]
    if origin is dict and len(args) == 2:
        return dict.__class_getitem__((args[0], strict_annotation(args[1])))
    if origin is tuple and args:
        return tuple[tuple(strict_annotation(a) for a in args)]  # type: ignore[misc]
    if not isinstance(annotation, type):
        return annotation
    if annotation in _STRICT_SCALARS:
        return Annotated[annotation, Strict()]
    if issubclass(annotation, enum.Enum):
        accepted = tuple({type(member.value) for member in annotation})
        if all(t in _JSON_TYPES for t in accepted):
            return Annotated[annotation, BeforeValidator(_json_guard(annotation, accepted))]
        return annotation
    if issubclass(annotation, decimal.Decimal):
        # Documented as a number or a numeric string.
        guard = _json_guard(annotation, (int, float, str))
        return Annotated[annotation, BeforeValidator(guard)]
    if issubclass(annotation, _STRING_ENCODED):
        return Annotated[annotation, BeforeValidator(_json_guard(annotation, (str,)))]
    return annotation


def _column_constraints(annotation: Any, column: Column[Any]) -> Any:
    """The column's bounds on the scalar type of a field: integer range, text length, no NUL."""
    bounds = column_bounds(column)
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = tuple(_column_constraints(a, column) for a in typing.get_args(annotation))
        return typing.Union[args]  # noqa: UP007
    base = typing.get_args(annotation)[0] if origin is Annotated else annotation
    if base is int and "ge" in bounds:
        return Annotated[annotation, Field(ge=bounds["ge"], le=bounds["le"])]
    if base is str:
        if "max_length" in bounds:
            return Annotated[annotation, Field(max_length=bounds["max_length"], pattern=NO_NUL)]
        return Annotated[annotation, Field(pattern=NO_NUL)]
    return annotation


def _strict_field(field: FieldInfo, column: Column[Any] | None, **changes: Any) -> Any:
    new = FieldInfo.merge_field_infos(field, **changes)
    annotation = strict_annotation(field.annotation)
    if column is not None:
        annotation = _column_constraints(annotation, column)
    return annotation, new


def _config(base: ConfigDict) -> ConfigDict:
    config = ConfigDict(**base)
    config["extra"] = "forbid"
    return config


def derive_create_schema(
    info: ModelInfo, schema: type[BaseModel], name: str, exclude: frozenset[str] = frozenset()
) -> type[BaseModel]:
    """The read schema restricted to writable columns, strict, named ``name``; the key is left
    out when generated, and so are ``exclude`` (such as the parent key of a nested resource,
    taken from the path)."""
    fields: dict[str, Any] = {}
    for key, field in schema.model_fields.items():
        if key not in info.columns or key in exclude:
            continue
        if key == info.pk_key and info.pk_generated:
            continue
        fields[key] = _strict_field(field, info.columns[key])
    model: type[BaseModel] = create_model(
        name,
        __config__=_config(schema.model_config),
        __doc__=f"The fields a client sends to create a {info.resource}.",
        **fields,
    )
    _DERIVED.add(model)
    return model


def derive_update_schema(
    info: ModelInfo, create_schema: type[BaseModel], name: str
) -> type[BaseModel]:
    """The create schema with every field optional and the primary key left out, strict,
    named ``name``.

    A field keeps its type: ``null`` is accepted only where the create schema accepts it, and a
    field left out of a PATCH body is left alone (the router reads ``model_fields_set``).
    """
    fields: dict[str, Any] = {}
    derived = create_schema in _DERIVED
    for key, field in create_schema.model_fields.items():
        if key == info.pk_key:
            continue
        if derived:
            # Already strict and bounded: copy as it is.
            optional = FieldInfo.merge_field_infos(field, default=None, default_factory=None)
            fields[key] = (field.annotation, optional)
        else:
            fields[key] = _strict_field(
                field, info.columns.get(key), default=None, default_factory=None
            )
    model: type[BaseModel] = create_model(
        name,
        __config__=_config(create_schema.model_config),
        __doc__=f"The fields a client may change on a {info.resource}; all optional.",
        **fields,
    )
    return model
