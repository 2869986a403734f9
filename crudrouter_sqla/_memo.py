"""Bounded caches of things built once per key and shared (validators, wrapper types)."""

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def memo(store: dict[Any, T], key: Any, build: Callable[[Any], T], limit: int) -> T:
    """``store[key]``, built by ``build(key)`` on the first call and kept while ``store`` holds
    fewer than ``limit`` entries; built on every call for a key that cannot be one (an
    unhashable annotation)."""
    try:
        known = store.get(key)
    except TypeError:
        return build(key)
    if known is None:
        known = build(key)
        if len(store) < limit:
            store[key] = known
    return known
