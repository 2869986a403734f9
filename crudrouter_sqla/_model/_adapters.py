"""One Pydantic `TypeAdapter` per Python type, built on first use and shared."""

from typing import Any

from pydantic import TypeAdapter

_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def adapter_for(value_type: type[Any]) -> TypeAdapter[Any]:
    """The adapter that parses and dumps values of ``value_type`` (a column's Python type)."""
    adapter = _ADAPTERS.get(value_type)
    if adapter is None:
        adapter = _ADAPTERS[value_type] = TypeAdapter(value_type)
    return adapter
