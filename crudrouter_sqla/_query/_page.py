"""`Page`: one page of a list, and the checks on the paging options."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, create_model

from ..errors import ConfigurationError

T = TypeVar("T")

DEFAULT_MAX_OFFSET = 100_000
"""The deepest offset a list route accepts unless told otherwise; deeper pages use cursors."""


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, the total that match, where the page starts and a cursor
    to the next.

    Example:
        ```python
        from pydantic import BaseModel

        from crudrouter_sqla import Page

        class Item(BaseModel):
            id: int

        page = Page[Item](items=[Item(id=1)], total=1, limit=20, offset=0)
        assert page.model_dump() == {
            "items": [{"id": 1}], "total": 1, "limit": 20, "offset": 0, "next_cursor": None,
            "page": None, "pages": None,
        }
        ```
    """

    items: list[T]
    total: int | None = Field(description="Rows that match the query; null when not counted.")
    limit: int = Field(description="The most items a page holds.")
    offset: int | None = Field(
        description="How many matching rows come before this page; null on a cursor page."
    )
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` to get the next page; null on the last page.",
    )
    page: int | None = Field(
        default=None, description="The page number asked for with `page`; null otherwise."
    )
    pages: int | None = Field(
        default=None,
        description="How many pages of `limit` items there are, with `page` and a count; "
        "null otherwise.",
    )

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """``Page[OverdueTask]`` is named ``OverdueTaskPage``; a parameter that is not a class
        (a union, say) keeps pydantic's name."""
        if not all(isinstance(param, type) for param in params):
            return super().model_parametrized_name(params)
        names = [param.__name__ for param in params]
        return "".join(name[:1].upper() + name[1:] for name in names) + "Page"

    def __class_getitem__(cls, params: Any) -> Any:
        """``Page[OverdueTask]`` as a class of its own named ``OverdueTaskPage``, so that the
        OpenAPI document, and the client a generator writes from it, name it so: pydantic names
        a parametrized model's schema after the generic and its arguments
        (``Page_OverdueTask_``), whatever its ``__name__``. The same class every time."""
        model = super().__class_getitem__(params)
        if (
            cls is not Page
            or not isinstance(model, type)
            or model.__pydantic_generic_metadata__["parameters"]
            or model.__name__.startswith("Page[")
        ):
            return model
        named = _NAMED.get(model)
        if named is None:
            named = _NAMED[model] = create_model(
                model.__name__,
                __base__=model,
                __module__=cls.__module__,
                __doc__=f"One page of a list of {model.__name__.removesuffix('Page')}.",
            )
        return named


_NAMED: dict[type[BaseModel], type[BaseModel]] = {}


def check_limits(default_limit: int, max_limit: int) -> None:
    """Raise `ConfigurationError` unless ``1 <= default_limit <= max_limit``."""
    for name, value in (("max_limit", max_limit), ("default_limit", default_limit)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigurationError(f"{name} must be an integer, got {value!r}")
    if max_limit < 1:
        raise ConfigurationError(f"max_limit must be at least 1, got {max_limit}")
    if not 1 <= default_limit <= max_limit:
        raise ConfigurationError(
            f"default_limit must be between 1 and max_limit ({max_limit}), got {default_limit}"
        )


def check_positive(name: str, value: int) -> None:
    """Raise `ConfigurationError` unless ``value`` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
