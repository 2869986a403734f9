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
from typing import Annotated, Any, Optional

import annotated_types
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, create_model
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

Check = Callable[[Any], bool]
"""Whether a value (as JSON gives it) has a JSON type the documented schema allows."""

_STRING_ENCODED: tuple[type[Any], ...] = (
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    bytes,
)


def _is(*kinds: type[Any]) -> Check:
    def check(value: Any) -> bool:
        # bool is an int in Python, never a number in JSON.
        return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))

    return check


def _any(value: Any) -> bool:
    return True


def _json_check(annotation: Any) -> tuple[Check, str]:
    """A check of the JSON type of a value for ``annotation``, and the type's name."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return _json_check(args[0])
    if origin is typing.Union or origin is types.UnionType:
        checks = [_json_check(a) for a in args]
        names = " or ".join(dict.fromkeys(name for _, name in checks))
        return (lambda value: any(check(value) for check, _ in checks)), names
    if origin in (list, set, frozenset, tuple):
        items = [_json_check(a)[0] for a in args if a is not Ellipsis] or [_any]

        def each(value: Any) -> bool:
            if not isinstance(value, list):
                return False
            if len(items) == 1:
                return all(items[0](v) for v in value)
            return len(value) == len(items) and all(c(v) for c, v in zip(items, value, strict=True))

        return each, "array"
    if origin is dict:
        item = _json_check(args[1])[0] if len(args) == 2 else _any
        return (lambda value: isinstance(value, dict) and all(map(item, value.values()))), "object"
    if annotation is type(None):
        return (lambda value: value is None), "null"
    if not isinstance(annotation, type):
        return _any, "value"
    if annotation is bool:
        return _is(bool), "boolean"
    if annotation is int:
        # 2.0 is an integer in JSON; 2.5 is refused by the validation that follows.
        return _is(int, float), "integer"
    if annotation is float:
        return _is(int, float), "number"
    if annotation is str:
        return _is(str), "string"
    if issubclass(annotation, enum.Enum):
        kinds = tuple({type(member.value) for member in annotation})
        return _is(annotation, *kinds), "enum value"
    if issubclass(annotation, decimal.Decimal):
        return _is(annotation, int, float, str), "number or numeric string"
    if issubclass(annotation, _STRING_ENCODED):
        return _is(annotation, str), "string"
    if issubclass(annotation, BaseModel):
        return _is(annotation, dict), "object"
    return _any, "value"


def json_type_guard(annotation: Any) -> BeforeValidator:
    """A validator that refuses values whose JSON type the field's documented schema does not
    allow, before Pydantic's lax conversions (``true`` -> 1, ``"12"`` -> 12, a number -> a
    date) could accept them."""
    check, name = _json_check(annotation)

    def guard(value: Any) -> Any:
        if not check(value):
            raise ValueError(f"Input should be a JSON {name}")
        return value

    return BeforeValidator(guard)


def _strict(annotation: Any, field: FieldInfo, **changes: Any) -> tuple[Any, FieldInfo]:
    """The field with a JSON type guard after its own constraints: the constraints move into
    the annotation, ahead of the guard, so the document still shows them."""
    new = FieldInfo.merge_field_infos(field, **changes)
    constraints, new.metadata = new.metadata, []
    guarded = Annotated[(annotation, *constraints, json_type_guard(field.annotation))]
    return guarded, new


def strict_json(schema: type[BaseModel]) -> type[BaseModel]:
    """A copy of ``schema``, with the same name, whose fields accept only the JSON types its
    OpenAPI schema declares: no ``true`` or ``"12"`` for an integer, no number for a string or
    a date. The rest is inherited: validators, configuration (such as ``extra``), defaults.

    The router applies the same rule to the schemas it derives; use this for your own create
    and update schemas, for instance as a class decorator.

    Example:
        ```python
        from pydantic import BaseModel, ConfigDict, ValidationError

        from crudrouter_sqla import strict_json

        @strict_json
        class HeroCreate(BaseModel):
            model_config = ConfigDict(extra="forbid")
            name: str
            age: int | None = None

        assert HeroCreate.model_validate({"name": "Flash", "age": 28.0}).age == 28
        for bad in ({"name": "Flash", "age": True}, {"name": 7}, {"name": "F", "x": 1}):
            try:
                HeroCreate.model_validate(bad)
            except ValidationError:
                pass
            else:
                raise AssertionError(bad)
        ```
    """
    _require_basemodel(schema, "strict_json")
    fields = {key: _strict(field.annotation, field) for key, field in schema.model_fields.items()}
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        schema.__name__,
        __base__=schema,
        __module__=schema.__module__,
        __doc__=schema.__doc__,
        **fields,
    )
    model.__qualname__ = schema.__qualname__
    return model


def _column_constraints(annotation: Any, column: Column[Any]) -> Any:
    """The column's bounds on the scalar type of a field: integer range, text length, no NUL."""
    bounds = column_bounds(column)
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = tuple(_column_constraints(a, column) for a in typing.get_args(annotation))
        return typing.Union[args]  # noqa: UP007
    base = typing.get_args(annotation)[0] if origin is Annotated else annotation
    if base is int and "ge" in bounds:
        return Annotated[annotation, annotated_types.Interval(ge=bounds["ge"], le=bounds["le"])]
    if base is str:
        length = bounds.get("max_length")
        return Annotated[annotation, StringConstraints(max_length=length, pattern=NO_NUL)]
    return annotation


def _strict_field(field: FieldInfo, column: Column[Any] | None, **changes: Any) -> Any:
    annotation = field.annotation
    if column is not None:
        annotation = _column_constraints(annotation, column)
    return _strict(annotation, field, **changes)


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
        if key in info.generated_keys:
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
    keys = {part.key for part in info.key}
    for key, field in create_schema.model_fields.items():
        if key in keys:
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


def derive_replace_schema(
    info: ModelInfo, create_schema: type[BaseModel], name: str
) -> type[BaseModel]:
    """The body of PUT: the create schema, with the key columns optional (the path names the
    row; a key sent in the body must match it), named ``name``. The create schema itself when
    it holds no key.
    """
    keys = {part.key for part in info.key}
    if not keys & set(create_schema.model_fields):
        return create_schema
    fields: dict[str, Any] = {}
    for key, field in create_schema.model_fields.items():
        if key in keys:
            optional = FieldInfo.merge_field_infos(field, default=None)
            fields[key] = (Optional[field.annotation], optional)  # noqa: UP045
        else:
            fields[key] = (field.annotation, field)
    model: type[BaseModel] = create_model(
        name,
        __config__=create_schema.model_config,
        __doc__=f"The fields of a {info.resource} that PUT writes; the key comes from the path.",
        **fields,
    )
    return model
