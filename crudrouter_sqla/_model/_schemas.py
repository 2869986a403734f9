"""Checking the given Pydantic schemas against the model, and deriving the missing ones.

Derived create and update schemas are strict: an unknown field is a 422 naming it
(``extra="forbid"``), and each field takes only the JSON types its documented schema declares
(no ``true`` for an integer, no ``"12"`` for a number, no number for a date), with the bounds of
its column (integer range, text length, no NUL in text) in the document as well.
"""

from __future__ import annotations

import collections.abc
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
from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    StringConstraints,
    WrapValidator,
    create_model,
)
from pydantic.fields import FieldInfo
from sqlalchemy import Column
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import MANYTOONE, Mapper, RelationshipProperty
from sqlalchemy.types import TypeDecorator

from .._memo import memo
from ..errors import ConfigurationError
from ._inspect import ModelInfo, column_bounds, number_bounds, python_type
from ._relations import embedded_schema
from ._writes import WritePlan, build_write_plan

_DERIVED: weakref.WeakSet[type[BaseModel]] = weakref.WeakSet()

NO_NUL = r"^[^\x00]*$"
"""Text a column can hold on every database: PostgreSQL refuses NUL."""


def check_read_schema(info: ModelInfo, schema: type[BaseModel]) -> None:
    """Every field of the read schema must be an attribute of the model, and every field that
    reads a column, in the schema or in the schemas it embeds, must take every value the column
    holds: ``None`` where the column is nullable, and values of the column's type. Otherwise
    each read of a row holding such a value would fail, long after the router was built.
    """
    _require_basemodel(schema, "schema")
    missing = [name for name in schema.model_fields if not hasattr(info.model, name)]
    if missing:
        raise ConfigurationError(
            f"{schema.__name__} has fields that {info.resource} lacks: {', '.join(missing)}; "
            f"remove them from the schema or add them to the model"
        )
    _check_reads(sa_inspect(info.model), schema, set())


# ----------------------------------------------------------------------------- read schemas

_FAMILIES: tuple[tuple[type[Any], str], ...] = (
    (bool, "boolean"),
    (int, "number"),
    (float, "number"),
    (decimal.Decimal, "number"),
    (str, "text"),
    (datetime.datetime, "date"),
    (datetime.date, "date"),
    (datetime.time, "time"),
    (datetime.timedelta, "interval"),
    (uuid.UUID, "uuid"),
    (bytes, "bytes"),
)
"""Kinds of values, as far as reading one kind into a field of another goes."""

_READABLE = {
    ("boolean", "number"),
    ("number", "boolean"),  # 0 and 1
    ("number", "date"),  # a Unix time
    ("number", "time"),
    ("number", "interval"),  # seconds
    ("text", "date"),  # ISO 8601 text, as SQLite keeps dates
    ("text", "time"),
    ("text", "interval"),
    ("text", "uuid"),
    ("text", "bytes"),
    ("bytes", "text"),
}
"""(column kind, field kind) pairs that Pydantic reads for the values such columns hold, besides
each kind into itself."""

_RESHAPING = (BeforeValidator, WrapValidator, PlainValidator)


def _family(kind: type[Any]) -> str | None:
    if issubclass(kind, enum.Enum):
        return None  # an enum takes its members' values, of whatever type
    return next((name for base, name in _FAMILIES if issubclass(kind, base)), None)


def _members(annotation: Any) -> list[Any] | None:
    """The types a field's annotation allows, besides None; None when it allows anything."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            members = _members(arg)
            if members is None:
                return None
            found.extend(members)
        return found
    if annotation is Any or annotation is object:
        return None
    return [] if annotation is type(None) else [annotation]


def _admits_none(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _admits_none(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_admits_none(arg) for arg in typing.get_args(annotation))
    return annotation in (None, type(None), Any, object) or isinstance(annotation, typing.TypeVar)


def _shown(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def _column_type(column: Column[Any]) -> type[Any] | None:
    """The type of the values a read gets from the column; None when it may be anything (JSON,
    arrays, a type decorator that turns values into others)."""
    col_type = column.type
    if isinstance(col_type, TypeDecorator):
        decorator = type(col_type)
        if (
            decorator.process_result_value is not TypeDecorator.process_result_value
            or decorator.result_processor is not TypeDecorator.result_processor
        ):
            return None
    kind = python_type(column)
    return kind if kind is not None and _family(kind) is not None else None


def _reshaped(schema: type[BaseModel], name: str, field: FieldInfo) -> bool:
    """Whether a validator may turn the attribute into another value before its type sees it."""
    if any(isinstance(item, _RESHAPING) for item in field.metadata):
        return True
    decorators = schema.__pydantic_decorators__
    for validator in decorators.field_validators.values():
        fields = validator.info.fields
        if validator.info.mode != "after" and (name in fields or "*" in fields):
            return True
    return False


def _check_column_read(
    schema: type[BaseModel], name: str, field: FieldInfo, column: Column[Any]
) -> None:
    where = f"{schema.__name__}.{name}"
    shown = _shown(field.annotation)
    table_column = f"{column.table.name}.{column.name}" if column.table is not None else name
    if column.nullable and not _admits_none(field.annotation):
        raise ConfigurationError(
            f"{where} is typed {shown}, but the column {table_column} it reads is nullable, and "
            f"a row holding NULL there could not be read; type it as {shown} | None, or make "
            f"the column NOT NULL (nullable=False)"
        )
    kind = _column_type(column)
    members = _members(field.annotation)
    if kind is None or members is None:
        return
    have = _family(kind)
    for member in members:
        if not isinstance(member, type):
            return  # Literal, a generic, a type the kinds above do not cover: not judged
        want = _family(member)
        if want is None or want == have or (have, want) in _READABLE:
            return
    raise ConfigurationError(
        f"{where} is typed {shown}, but the column {table_column} it reads holds "
        f"{kind.__name__} values, which {shown} does not take; type it as {kind.__name__}"
        + (" | None" if column.nullable else "")
    )


def _can_be_none(rel: RelationshipProperty[Any]) -> bool:
    """Whether a to-one relationship may hold no row."""
    if rel.direction is not MANYTOONE:
        return True  # the other side of a one-to-one: a row may have no partner
    return any(column.nullable for column in rel.local_columns)


def _check_reads(
    mapper: Mapper[Any], schema: type[BaseModel], seen: set[tuple[Any, type[BaseModel]]]
) -> None:
    """`check_read_schema`'s column checks, for a schema and the schemas it embeds."""
    if (mapper, schema) in seen:
        return
    seen.add((mapper, schema))
    decorators = schema.__pydantic_decorators__
    if any(v.info.mode != "after" for v in decorators.model_validators.values()):
        return  # a model validator may read the row in any way it likes
    columns = {
        prop.key: prop.columns[0]
        for prop in mapper.column_attrs
        if len(prop.columns) == 1 and isinstance(prop.columns[0], Column)
    }
    for name, field in schema.model_fields.items():
        if field.alias not in (None, name) or field.validation_alias not in (None, name):
            continue  # read from another attribute than the one the name says
        if _reshaped(schema, name, field):
            continue
        if name in columns:
            _check_column_read(schema, name, field, columns[name])
            continue
        rel = mapper.relationships.get(name)
        found = embedded_schema(field.annotation) if rel is not None else None
        if rel is None or found is None:
            continue
        nested, is_list = found
        if (
            not is_list
            and not rel.uselist
            and _can_be_none(rel)
            and not _admits_none(field.annotation)
        ):
            raise ConfigurationError(
                f"{schema.__name__}.{name} is typed {_shown(field.annotation)}, but a "
                f"{mapper.class_.__name__} may have no {rel.mapper.class_.__name__} there; "
                f"type it as {nested.__name__} | None"
            )
        _check_reads(rel.mapper, nested, seen)


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
    date) could accept them. One per annotation: the fields of every schema of the same type
    share it."""
    return memo(_GUARDS, annotation, _guard, _MAX_GUARDS)


_GUARDS: dict[Any, BeforeValidator] = {}
_MAX_GUARDS = 4096


def _guard(annotation: Any) -> BeforeValidator:
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
    fields = {
        key: _strict(_bounded_items(field.annotation), field)
        for key, field in schema.model_fields.items()
    }
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        schema.__name__,
        __base__=schema,
        __module__=schema.__module__,
        __doc__=schema.__doc__,
        **fields,
    )
    model.__qualname__ = schema.__qualname__
    return model


_NUMBERS: dict[type[Any], Callable[[decimal.Decimal], Any]] = {
    int: int,
    float: float,
    decimal.Decimal: lambda bound: bound,
}
"""The number types a column's range applies to, and how a bound is written in each."""


def _column_constraints(annotation: Any, column: Column[Any]) -> Any:
    """The column's bounds on the scalar type of a field: the range of numbers it stores (no
    infinity or NaN either), text length, no NUL."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = tuple(_column_constraints(a, column) for a in typing.get_args(annotation))
        return typing.Union[args]  # noqa: UP007
    base = typing.get_args(annotation)[0] if origin is Annotated else annotation
    number = _NUMBERS.get(base)
    limits = number_bounds(column) if number is not None else None
    if number is not None and limits is not None:
        low, high = (number(limit) for limit in limits)
        interval = annotated_types.Interval(ge=low, le=high)
        if base is int:  # an int is finite; AllowInfNan on one would hide the field's bounds
            return Annotated[annotation, interval]
        return Annotated[annotation, interval, AllowInfNan(False)]
    if number is float:
        return Annotated[annotation, AllowInfNan(False)]
    if base is str:
        length = column_bounds(column).get("max_length")
        return Annotated[annotation, StringConstraints(max_length=length, pattern=NO_NUL)]
    return annotation


_SEQUENCES = (list, set, frozenset, tuple, collections.abc.Sequence)


def _bounded_items(annotation: Any, column: Column[Any] | None = None) -> Any:
    """A list type whose items keep to ``column``'s bounds (the key column of a to-many
    relationship written as a list of keys), or, without a column, whose text items refuse NUL:
    key lists and text in JSON, as every database can store them.

    The item's own constraints come after the column's, so that they win where both say the
    same (a pattern, a length).
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return typing.Union[tuple(_bounded_items(a, column) for a in args)]  # noqa: UP007
    if origin is Annotated:
        return Annotated[(_bounded_items(args[0], column), *args[1:])]
    if origin not in _SEQUENCES or not args:
        return annotation
    if origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            return annotation
        return tuple[_bounded_item(args[0], column), ...]  # type: ignore[misc]
    return origin[_bounded_item(args[0], column)]


def _bounded_item(item: Any, column: Column[Any] | None) -> Any:
    base, own = item, ()
    if typing.get_origin(item) is Annotated:
        base, *rest = typing.get_args(item)
        own = tuple(rest)
    if column is not None:
        bounded = _column_constraints(base, column)
    elif base is str:
        bounded = Annotated[str, StringConstraints(pattern=NO_NUL)]
    else:
        return item
    return Annotated[(bounded, *own)] if own else bounded


def _key_column(info: ModelInfo, key: str) -> Column[Any] | None:
    """The key column of the related rows, for a field that names a to-many relationship."""
    rel = info.relationships.get(key)
    if rel is None or not rel.uselist:
        return None
    primary_key = rel.mapper.primary_key
    column = primary_key[0] if len(primary_key) == 1 else None
    return column if isinstance(column, Column) else None


def _strict_field(field: FieldInfo, column: Column[Any] | None, **changes: Any) -> Any:
    annotation = field.annotation
    if column is not None:
        annotation = _column_constraints(annotation, column)
    return _strict(_bounded_items(annotation), field, **changes)


def strict_write_field(info: ModelInfo, key: str, field: FieldInfo, **changes: Any) -> Any:
    """A write schema's field, strict, with the bounds of its column, or, for a list of a
    to-many relationship's keys, of the related key column (each key keeps to it)."""
    column = info.columns.get(key)
    related_key = None if column is not None else _key_column(info, key)
    if related_key is not None:
        return _strict(_bounded_items(field.annotation, related_key), field, **changes)
    return _strict_field(field, column, **changes)


def _config(base: ConfigDict) -> ConfigDict:
    config = ConfigDict(**base)
    config["extra"] = "forbid"
    return config


def optional_by_column(info: ModelInfo, key: str, field: FieldInfo) -> dict[str, Any]:
    """A read schema's field is required there (every row has it); a client creating a row may
    leave out what the database fills in itself: a nullable column (``null``), or a column with
    a plain default value (that value)."""
    if not field.is_required():
        return {}
    column = info.columns[key]
    if column.nullable:
        return {"default": None}
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        return {"default": default.arg}  # type: ignore[attr-defined]
    return {}


def derive_create_schema(
    info: ModelInfo, schema: type[BaseModel], name: str, exclude: frozenset[str] = frozenset()
) -> type[BaseModel]:
    """The read schema restricted to writable columns, strict, named ``name``; the key is left
    out when generated, and so are ``exclude`` (such as the parent key of a nested resource,
    taken from the path). A field the database fills in (a nullable column, a column
    with a default value) may be left out."""
    fields: dict[str, Any] = {}
    for key, field in schema.model_fields.items():
        if key not in info.columns or key in exclude:
            continue
        if key in info.generated_keys:
            continue
        fields[key] = _strict_field(
            field, info.columns[key], **optional_by_column(info, key, field)
        )
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
            fields[key] = strict_write_field(info, key, field, default=None, default_factory=None)
    config = _config(create_schema.model_config)
    # Validated through the route's body field, which builds its own validator: the model's
    # own is built only if something uses it.
    config["defer_build"] = True
    model: type[BaseModel] = create_model(
        name,
        __config__=config,
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
