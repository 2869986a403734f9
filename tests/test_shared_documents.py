"""What the routers of an app share to start faster never shows in the document: every error
response still documents the error body, a page component is the schema of a page model, and
a query parameter documented once for many routes is that of each of them."""

import copy
import enum
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    create_model,
    field_serializer,
    field_validator,
)
from pydantic.fields import FieldInfo
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crudrouter_sqla import CRUDRouter, ErrorResponse, Page
from tests.models import Hero, HeroCreate, HeroRead, Tag, TagRead

REF = "#/components/schemas/"


def _error_refs(document: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
    """The body schema of every documented error response but the 422."""
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status[0] in "45" and status != "422":
                    content = response.get("content", {}).get("application/json", {})
                    found[path, method, status] = content.get("schema")
    return found


def _declared_list(router: CRUDRouter) -> None:
    @router.get("", summary="A list of my own")
    async def my_list() -> list[int]:
        return []


def _hidden_list(router: CRUDRouter) -> None:
    @router.get("", include_in_schema=False)
    async def hidden_list() -> list[int]:
        return []


def _dropped_first(router: CRUDRouter) -> None:
    del router.routes[0]


def _hid_first(router: CRUDRouter) -> None:
    router.routes[0].include_in_schema = False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("options", "change"),
    [
        ({}, None),
        ({"list_route": False}, None),
        ({"list_route": False, "get_route": False, "create_route": False}, None),
        ({}, _declared_list),
        ({}, _hidden_list),
        ({}, _dropped_first),
        ({}, _hid_first),
        ({"delete_route": False, "update_route": False}, _hidden_list),
    ],
    ids=[
        "all",
        "no-list",
        "writes-only",
        "declared-list",
        "hidden-list",
        "dropped",
        "hid-first",
        "hidden+few",
    ],
)
def test_every_error_response_documents_the_error_body(options, change):
    router = CRUDRouter(Hero, HeroRead, HeroCreate, **options)
    if change is not None:
        change(router)
    app = FastAPI()
    app.include_router(router)
    app.include_router(router, prefix="/v2")
    document = app.openapi()
    refs = _error_refs(document)
    assert refs, document["paths"]
    name = next(k for k in document["components"]["schemas"] if k.endswith("ErrorResponse"))
    assert all(schema == {"$ref": REF + name} for schema in refs.values()), refs
    assert document["components"]["schemas"][name] == ErrorResponse.model_json_schema(
        ref_template=REF + "{model}"
    )


class _Rank(enum.Enum):
    low = "low"
    high = "high"


class _Badge(BaseModel):
    label: str


class _ShapeRead(BaseModel):
    """A read schema with an enum, a nested model, an alias and a default."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)
    id: int
    title: str = Field(alias="heading", description="What it is called")
    rank: _Rank = _Rank.low
    badges: list[_Badge] = []
    notes: str | None = None


class _Base(DeclarativeBase):
    pass


class _Shape(_Base):
    __tablename__ = "shapes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    rank: Mapped[str] = mapped_column(String(10), default="low")
    notes: Mapped[str | None]

    @property
    def badges(self) -> list[dict[str, str]]:
        return []


def _page_model(name: str, item: Any) -> Any:
    """A page model as the list route would document one: `Page`'s fields, ``items`` of
    ``item``."""
    fields: dict[str, Any] = {
        key: (list[item] if key == "items" else field.annotation, copy.copy(field))
        for key, field in Page.model_fields.items()
    }
    return create_model(name, __module__=Page.__module__, **fields)


async def _no_page() -> None:
    return None


@pytest.mark.parametrize(("model", "read"), [(Hero, HeroRead), (_Shape, _ShapeRead)])
def test_a_page_component_is_the_schema_of_a_page_model(model, read):
    app = FastAPI()
    app.include_router(CRUDRouter(model, read))
    schemas = app.openapi()["components"]["schemas"]
    item = model.__name__.lstrip("_")
    for page, of in ((f"{item}Page", read.__name__), (f"{item}FieldsPage", f"{item}Fields")):
        # What FastAPI documents for a route answering a page model of such items.
        plain = FastAPI()
        plain.get("/pages", response_model=_page_model(page, create_model(of)))(_no_page)
        assert schemas[page] == plain.openapi()["components"]["schemas"][page], page
    fields = schemas[f"{item}Fields"]
    assert "required" not in fields
    assert all("default" not in prop for prop in fields["properties"].values()), fields
    assert set(fields["properties"]) == set(schemas[read.__name__]["properties"])


class _ValidatedRead(_ShapeRead):
    """A read schema with a validator."""

    @field_validator("title")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class _ComputedRead(_ShapeRead):
    """A read schema with a computed field, which a model of its fields leaves out."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        return self.title.upper()


class _SerializedRead(_ShapeRead):
    """A read schema whose serializer changes a field's documented type."""

    @field_serializer("rank")
    def _rank(self, value: _Rank) -> int:
        return 1


_TitledRead = create_model(
    "_TitledRead", __base__=_ShapeRead, __config__=None, __doc__="A titled read schema."
)
_TitledRead.model_config["title"] = "Shape as read"
_TitledRead.model_rebuild(force=True)

_ExtraRead = create_model("_ExtraRead", __base__=_ShapeRead, __doc__="With schema extras.")
_ExtraRead.model_config["json_schema_extra"] = {"examples": [{"id": 1, "heading": "x"}]}
_ExtraRead.model_rebuild(force=True)


def _drop_defaults(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


def _fields_model(read: type[BaseModel], name: str) -> Any:
    """The ``fields`` items as a model: the read schema's fields (not its validators,
    serializers or computed fields), none required, no default documented."""
    config = ConfigDict(**read.model_config)
    config["json_schema_extra"] = _drop_defaults
    return create_model(
        name,
        __config__=config,
        __doc__=f"The fields of {read.__name__} a client asked for with `fields`.",
        **{
            key: (field.annotation, FieldInfo.merge_field_infos(field, default=None))
            for key, field in read.model_fields.items()
        },
    )


@pytest.mark.parametrize(
    "read",
    [_ShapeRead, _ValidatedRead, _ComputedRead, _SerializedRead, _TitledRead, _ExtraRead],
)
def test_the_fields_component_is_the_schema_of_a_model_of_the_read_fields(read):
    # Plain read schemas are documented from their own schema, the others by such a model:
    # both give what FastAPI documents for the model.
    app = FastAPI()
    app.include_router(CRUDRouter(_Shape, read))
    schemas = app.openapi()["components"]["schemas"]
    plain = FastAPI()
    model = _fields_model(read, "ShapeFields")
    plain.get("/fields", response_model=model)(_no_page)
    expected = plain.openapi()["components"]["schemas"]["ShapeFields"]
    assert schemas["ShapeFields"] == expected
    page = _page_model("ShapeFieldsPage", create_model("ShapeFields"))
    pages = FastAPI()
    pages.get("/pages", response_model=page)(_no_page)
    assert schemas["ShapeFieldsPage"] == pages.openapi()["components"]["schemas"]["ShapeFieldsPage"]


def _status_enum(*values: str) -> Any:
    class Status(enum.Enum):
        pass

    return enum.Enum(
        "Status", {v: v for v in values}, module=__name__, qualname=Status.__qualname__
    )


def _ticket_app(kind: Any) -> FastAPI:
    class Base(DeclarativeBase):
        pass

    class Ticket(Base):
        __tablename__ = "tickets"
        id: Mapped[int] = mapped_column(primary_key=True)
        status: Mapped[kind] = mapped_column()

    # The read schema leaves the enum out, so no component of it names its values either.
    read = create_model("TicketRead", __config__=ConfigDict(from_attributes=True), id=(int, ...))
    app = FastAPI()
    app.include_router(CRUDRouter(Ticket, read, filter_fields={"status": ["eq", "in"]}))
    return app


def _parameter_values(document: dict[str, Any], name: str) -> set[str]:
    parameter = next(
        p for p in document["paths"]["/tickets"]["get"]["parameters"] if p["name"] == name
    )
    schema = parameter["schema"]
    text = repr(schema)
    for ref in [s["$ref"] for s in _walk(schema) if "$ref" in s]:
        text += repr(document["components"]["schemas"][ref.removeprefix(REF)])
    return {value for value in ("open", "closed", "draft", "gone") if repr(value) in text}


def _walk(schema: Any) -> list[dict[str, Any]]:
    if isinstance(schema, dict):
        return [schema, *(s for v in schema.values() for s in _walk(v))]
    if isinstance(schema, list):
        return [s for v in schema for s in _walk(v)]
    return []


def test_apps_whose_enums_print_alike_document_their_own_parameters():
    first = _ticket_app(_status_enum("open", "closed")).openapi()
    second = _ticket_app(_status_enum("draft", "gone")).openapi()
    for name in ("status", "status__in"):
        assert _parameter_values(first, name) == {"open", "closed"}, name
        assert _parameter_values(second, name) == {"draft", "gone"}, name


def test_routers_that_share_parameters_document_them_alike():
    app = FastAPI()
    app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate, max_limit=50))
    app.include_router(CRUDRouter(Hero, HeroRead, HeroCreate, prefix="/more", max_limit=70))
    paths = app.openapi()["paths"]

    def limit(path: str) -> dict[str, Any]:
        parameters = paths[path]["get"]["parameters"]
        found: dict[str, Any] = next(p for p in parameters if p["name"] == "limit")
        return found

    assert limit("/heroes")["schema"]["maximum"] == 50
    assert limit("/more")["schema"]["maximum"] == 70
    assert limit("/heroes")["description"] == "Page size, 1 to 50."


def _answers(document: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
    """The body schema of every documented 200 and 201 but the list's."""
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status in ("200", "201") and not (method == "get" and "{" not in path):
                    content = response.get("content", {}).get("application/json", {})
                    found[path, method, status] = content.get("schema")
    return found


@pytest.mark.parametrize(
    ("model", "read", "options", "change"),
    [
        (Hero, HeroRead, {}, None),
        (Hero, HeroRead, {"get_route": False}, None),
        (Hero, HeroRead, {}, _hid_first),
        (Tag, TagRead, {"upsert": True}, None),
        (Tag, TagRead, {"upsert": True, "get_route": False, "create_route": False}, None),
    ],
    ids=["hero", "no-get", "hid-first", "upsert", "upsert-alone"],
)
def test_every_answer_of_one_item_documents_the_read_schema(model, read, options, change):
    router = CRUDRouter(model, read, **options)
    if change is not None:
        change(router)
    declared = CRUDRouter(model, read, prefix="/declared", **options)

    @declared.get("/{item_id}", response_model=read)
    async def my_get(item_id: str) -> Any:
        return None

    app = FastAPI()
    app.include_router(router)
    app.include_router(declared)
    document = app.openapi()
    answers = _answers(document)
    statuses = {(method, status) for _, method, status in answers}
    expected = {("post", "201"), ("put", "200"), ("patch", "200")} - (
        {("post", "201")} if "create_route" in options else set()
    )
    assert expected <= statuses, statuses
    if "upsert" in options:
        assert ("put", "201") in statuses
    assert all(schema == {"$ref": REF + read.__name__} for schema in answers.values()), answers
