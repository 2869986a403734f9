"""Checking the given Pydantic schemas against the model, and deriving the missing ones."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo

from ..errors import ConfigurationError
from ._inspect import ModelInfo
from ._writes import WritePlan, build_write_plan


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


def _copy_field(field: FieldInfo, **changes: Any) -> tuple[Any, FieldInfo]:
    new = FieldInfo.merge_field_infos(field, **changes)
    return field.annotation, new


def derive_create_schema(
    info: ModelInfo, schema: type[BaseModel], exclude: frozenset[str] = frozenset()
) -> type[BaseModel]:
    """The read schema restricted to writable columns; the key is left out when generated, and
    so are ``exclude`` (such as the parent key of a nested resource, taken from the path)."""
    fields: dict[str, Any] = {}
    for name, field in schema.model_fields.items():
        if name not in info.columns or name in exclude:
            continue
        if name in info.generated_keys:
            continue
        fields[name] = _copy_field(field)
    return create_model(
        f"{info.resource}Create",
        __config__=schema.model_config,
        __doc__=f"The fields a client sends to create a {info.resource}.",
        **fields,
    )


def derive_update_schema(info: ModelInfo, create_schema: type[BaseModel]) -> type[BaseModel]:
    """The create schema with every field optional and the primary key left out.

    A field keeps its type: ``null`` is accepted only where the create schema accepts it, and a
    field left out of a PATCH body is left alone (the router reads ``model_fields_set``).
    """
    fields: dict[str, Any] = {}
    for name, field in create_schema.model_fields.items():
        if name in {part.key for part in info.key}:
            continue
        fields[name] = _copy_field(field, default=None, default_factory=None)
    return create_model(
        f"{info.resource}Update",
        __config__=create_schema.model_config,
        __doc__=f"The fields a client may change on a {info.resource}; all optional.",
        **fields,
    )


def derive_replace_schema(info: ModelInfo, create_schema: type[BaseModel]) -> type[BaseModel]:
    """The body of PUT: the create schema, with the key columns optional (the path names the
    row; a key sent in the body must match it). The create schema itself when it holds no key.
    """
    keys = {part.key for part in info.key}
    if not keys & set(create_schema.model_fields):
        return create_schema
    fields: dict[str, Any] = {}
    for name, field in create_schema.model_fields.items():
        if name in keys:
            optional = FieldInfo.merge_field_infos(field, default=None)
            fields[name] = (Optional[field.annotation], optional)  # noqa: UP045
        else:
            fields[name] = _copy_field(field)
    return create_model(
        f"{info.resource}Replace",
        __config__=create_schema.model_config,
        __doc__=f"The fields of a {info.resource} that PUT writes; the key comes from the path.",
        **fields,
    )
