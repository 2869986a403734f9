"""Response bodies, written once as JSON bytes by adapters built with the router."""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    TypeAdapter,
    create_model,
)
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from .._query import Page

_MAX_SUBSETS = 128


class Serializer:
    """Turns rows or ORM objects into the JSON bytes of one item or of a `Page`.

    Rows come from the database, so they are validated by attribute (``from_attributes``) and
    dumped in one pass; the route's ``response_model`` still documents the schema.
    """

    def __init__(self, schema: type[BaseModel]) -> None:
        self.schema = schema
        self._subsets: dict[tuple[str, ...], TypeAdapter[Any]] = {}
        self._items: dict[tuple[str, ...], tuple[TypeAdapter[Any], TypeAdapter[Any]]] = {}

    # Built on first use, not with the router: an app of many routers starts faster.
    @cached_property
    def item(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.schema)

    @cached_property
    def items(self) -> TypeAdapter[Any]:
        return TypeAdapter(list[self.schema])  # type: ignore[name-defined]

    @cached_property
    def page(self) -> TypeAdapter[Any]:
        return TypeAdapter(Page[self.schema])  # type: ignore[name-defined]

    def one(self, row: Any) -> bytes:
        """The JSON of one item."""
        return self.item.dump_json(self.item.validate_python(row, from_attributes=True))

    def validate(self, row: Any) -> BaseModel:
        """One row as the read schema."""
        item: BaseModel = self.item.validate_python(row, from_attributes=True)
        return item

    def dump(self, item: BaseModel) -> bytes:
        """The JSON of a read-schema item."""
        return self.item.dump_json(item)

    def many_items(self, rows: Sequence[Any]) -> bytes:
        """The JSON list of several rows."""
        return self.items.dump_json(self.items.validate_python(rows, from_attributes=True))

    def dump_list(self, items: Sequence[BaseModel]) -> bytes:
        """The JSON list of read-schema items."""
        return self.items.dump_json(list(items))

    def many(
        self,
        rows: Sequence[Any],
        total: int | None,
        limit: int,
        offset: int | None,
        next_cursor: str | None = None,
        fields: tuple[str, ...] | None = None,
        numbers: tuple[int, int | None] | None = None,
    ) -> bytes:
        """The JSON of a page; with ``fields``, items hold only those fields; ``numbers`` are
        the page number and the number of pages of page-number paging."""
        adapter = self.page if fields is None else self._subset_page(fields)
        page = adapter.validate_python(
            {
                "items": rows,
                "total": total,
                "limit": limit,
                "offset": offset,
                "next_cursor": next_cursor,
                "page": None if numbers is None else numbers[0],
                "pages": None if numbers is None else numbers[1],
            },
            from_attributes=True,
        )
        return adapter.dump_json(page)

    def item_adapter(self, fields: tuple[str, ...] | None) -> TypeAdapter[Any]:
        """The adapter of one item: the read schema, or only ``fields`` of it."""
        if fields is None:
            return self.item
        return self._subset(fields)[0]

    def items_adapter(self, fields: tuple[str, ...] | None) -> TypeAdapter[Any]:
        """The adapter of a list of items: of the read schema, or only ``fields`` of it."""
        if fields is None:
            return self.items
        return self._subset(fields)[1]

    def _subset(self, fields: tuple[str, ...]) -> tuple[TypeAdapter[Any], TypeAdapter[Any]]:
        known = self._items.get(fields)
        if known is None:
            model = self._subset_model(fields)
            known = (TypeAdapter(model), TypeAdapter(list[model]))  # type: ignore[valid-type]
            if len(self._items) < _MAX_SUBSETS:
                self._items[fields] = known
        return known

    def _subset_model(self, fields: tuple[str, ...]) -> type[BaseModel]:
        model_fields = self.schema.model_fields
        definitions: dict[str, Any] = {
            name: (model_fields[name].annotation, model_fields[name]) for name in fields
        }
        model: type[BaseModel] = create_model(
            f"{self.schema.__name__}Fields",
            __config__=self.schema.model_config,
            **definitions,
        )
        return model

    def _subset_page(self, fields: tuple[str, ...]) -> TypeAdapter[Any]:
        adapter = self._subsets.get(fields)
        if adapter is None:
            subset = self._subset_model(fields)
            adapter = TypeAdapter(Page[subset])  # type: ignore[valid-type]
            if len(self._subsets) < _MAX_SUBSETS:
                self._subsets[fields] = adapter
        return adapter


def _no_defaults(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


def _none() -> None:
    return None


def _optional(field: FieldInfo) -> FieldInfo:
    """``field`` not required, with no default to document; with ``default=None`` when it
    has constraints, or when the attributes it was given cannot be read."""
    optional: FieldInfo = FieldInfo.merge_field_infos(field, default=None)
    given: dict[str, Any] = getattr(field, "_attributes_set", None) or {}
    if optional.metadata or "annotation" not in given:
        return optional
    rest = {k: v for k, v in given.items() if k not in ("annotation", "default", "default_factory")}
    return FieldInfo(default_factory=_none, **rest)


def page_model(schema: type[BaseModel], names: Any) -> Any:
    """The documented answer of a list route: a page of the read schema (``{Item}Page``), or,
    when the client asks for ``fields``, a page of the read schema's fields with none of them
    required (``{Item}FieldsPage`` of ``{Item}Fields``), so every page the route answers fits
    the document and a generated client's ``{Item}Page`` holds read-schema items."""
    name = names.schema("Fields")
    description = f"The fields of {schema.__name__} a client asked for with `fields`."
    subset: Any
    if _plain(schema):
        subset = type(name, (FieldsDoc,), {"__slots__": (), "item": schema, "doc": description})
    else:
        subset = _fields_model(schema, name, description)
    page: Any = _page_of(names.schema("Page"), schema)
    fields_page: Any = _page_of(names.schema("FieldsPage"), subset)
    return page | fields_page


def _fields_model(schema: type[BaseModel], name: str, description: str) -> type[BaseModel]:
    """A model of the read schema's fields, none required and none with a default to
    document: ``{Item}Fields`` of a read schema `FieldsDoc` cannot document."""
    fields: dict[str, Any] = {
        # Not required, with no default to document: a default of None would be written,
        # at the cost of a `TypeAdapter` each, only to be taken out again.
        key: (field.annotation, _optional(field))
        for key, field in schema.model_fields.items()
    }
    config = ConfigDict(**schema.model_config)
    config["json_schema_extra"] = _no_defaults
    config["defer_build"] = True
    model: type[BaseModel] = create_model(
        name, __config__=config, __doc__=description, __module__=__name__, **fields
    )
    return model


_MODEL_SCHEMA_KEYS = frozenset(
    {
        "title",
        "json_schema_extra",
        "json_schema_serialization_defaults_required",
        "json_schema_mode_override",
        "model_title_generator",
    }
)
"""Configuration that changes a model's own JSON schema (not its fields')."""


def _plain(schema: type[BaseModel]) -> bool:
    """Whether the read schema's JSON schema is that of its fields alone: no validator,
    serializer, computed field, JSON-schema hook or model-level schema configuration, so the
    `FieldsDoc` of it documents what a model of its fields would."""
    decorators = schema.__pydantic_decorators__
    hooks = (
        schema.__get_pydantic_json_schema__.__func__  # type: ignore[attr-defined]
        is BaseModel.__get_pydantic_json_schema__.__func__  # type: ignore[attr-defined]
        and schema.__get_pydantic_core_schema__.__func__  # type: ignore[attr-defined]
        is BaseModel.__get_pydantic_core_schema__.__func__  # type: ignore[attr-defined]
    )
    return (
        hooks
        and not schema.__pydantic_root_model__
        and not getattr(schema, "__deprecated__", None)
        and not _MODEL_SCHEMA_KEYS & set(schema.model_config)
        and not any(
            getattr(decorators, kind)
            for kind in (
                "validators",
                "field_validators",
                "root_validators",
                "field_serializers",
                "model_serializers",
                "model_validators",
                "computed_fields",
            )
        )
    )


class _Documents:
    """A type that only documents: its core schema is a list of `item` (what its JSON schema
    refers to) named by the subclass and its `module`, and its JSON schema is what the
    subclass's ``_json_schema`` writes from that list's."""

    __slots__ = ()
    item: ClassVar[Any]
    module: ClassVar[str]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.list_schema(
            handler.generate_schema(cls.item),
            ref=f"{cls.module}.{cls.__name__}:{id(cls)}",
            metadata={"pydantic_js_functions": [cls._json_schema]},
        )

    @classmethod
    def _json_schema(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        raise NotImplementedError


class FieldsDoc(_Documents):
    """The document's fields of an item (``{Item}Fields``, the items of ``{Item}FieldsPage``):
    the read schema's JSON schema with no field required and none with a default, titled by
    the subclass and described by its ``doc``.

    The list route writes a ``fields`` page with a serializer of its own, so this type only
    documents it, as a model of the read schema's fields would, without building that model
    for every router. Only for a read schema whose JSON schema is its fields' (see `_plain`).
    """

    __slots__ = ()
    item: ClassVar[type[BaseModel]]
    doc: ClassVar[str]
    module = __name__

    @classmethod
    def _json_schema(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        item = handler.resolve_ref_schema(handler(schema)["items"])
        fields: dict[str, Any] = _copied(item)
        fields.pop("required", None)
        fields["title"] = cls.__name__
        fields["description"] = cls.doc
        _no_defaults(fields)
        return fields


def _page_of(name: str, item: Any) -> Any:
    """The documented page of ``item`` named ``name`` (see `PageDoc`)."""
    return type(name, (PageDoc,), {"__slots__": (), "item": item})


class PageDoc(_Documents):
    """The document's page of an item: the fields of `Page`, with ``items`` a list of the item,
    as the component named by the subclass.

    A list route answers with bytes its serializer wrote, so its response model only documents
    the page; this type documents it as a model with those fields would, without building that
    model (its fields, validator and serializer) for every router. Its JSON schema is that of
    `Page` with the item's schema in ``items``.
    """

    __slots__ = ()
    module = Page.__module__

    @classmethod
    def _json_schema(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        page: dict[str, Any] = _copied(_page_template(handler.mode))
        page["title"] = cls.__name__
        # The list's own schema, whose items are the item's (a reference to its component).
        page["properties"]["items"]["items"] = handler(schema)["items"]
        return page


def _copied(schema: Any) -> Any:
    """A copy of a JSON schema: its objects and arrays copied, its values shared (what
    ``copy.deepcopy`` gives for JSON, in a fraction of the time)."""
    if isinstance(schema, dict):
        return {key: _copied(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_copied(value) for value in schema]
    return schema


@functools.cache
def _page_template(mode: Any) -> dict[str, Any]:
    """The JSON schema of a `Page` model with every field but the items' schema."""

    class Item(BaseModel):
        pass

    fields: dict[str, Any] = {
        key: (list[Item] if key == "items" else field.annotation, copy.copy(field))
        for key, field in Page.model_fields.items()
    }
    model: Any = create_model("Page", __module__=Page.__module__, **fields)
    schema: dict[str, Any] = model.model_json_schema(mode=mode)
    schema.pop("$defs", None)
    return schema
