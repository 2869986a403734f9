"""What the router knows about a model: its columns and keys, its relationships, the schemas
checked or derived from it, and how its rows become JSON.

Entry points: `inspect_model` (a `ModelInfo`), `build_embeds` and `resolve_path`
(relationships), `derive_create_schema` and `derive_update_schema`, `Serializer`.
"""

from ._adapters import adapter_for
from ._derive import harden_write_schema, without_fields, write_schema
from ._inspect import KeyPart, ModelInfo, column_bounds, inspect_model, python_type
from ._parent import Parent, build_parent
from ._references import Reference, embedded_models, references_of
from ._relations import (
    Embed,
    Joins,
    Path,
    Restriction,
    build_embeds,
    exists_clause,
    is_to_many,
    resolve_path,
)
from ._schemas import (
    check_read_schema,
    check_write_schema,
    derive_create_schema,
    derive_replace_schema,
    derive_update_schema,
    strict_json,
)
from ._soft_delete import SoftDelete, SoftValue, build_soft_delete, with_soft_values
from ._writes import ChildList, KeyList, WritePlan, build_write_plan

__all__ = [
    "ChildList",
    "Embed",
    "Joins",
    "KeyList",
    "KeyPart",
    "ModelInfo",
    "Parent",
    "Path",
    "Reference",
    "Restriction",
    "SoftDelete",
    "SoftValue",
    "WritePlan",
    "adapter_for",
    "build_embeds",
    "build_parent",
    "build_soft_delete",
    "build_write_plan",
    "check_read_schema",
    "check_write_schema",
    "column_bounds",
    "derive_create_schema",
    "derive_replace_schema",
    "derive_update_schema",
    "embedded_models",
    "exists_clause",
    "harden_write_schema",
    "inspect_model",
    "is_to_many",
    "python_type",
    "references_of",
    "resolve_path",
    "strict_json",
    "with_soft_values",
    "without_fields",
    "write_schema",
]
