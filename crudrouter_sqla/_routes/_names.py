"""The names a router gives its operations and the schemas it derives.

One rule, fixed when the router is built, so names are readable in a generated client and
differ between the routers of one app:

- the item name is the model class in snake case (``Hero`` -> ``hero``) when the prefix is the
  default ``/`` + table name; with another prefix it is the prefix's static segments in snake
  case (``/hero-search`` -> ``hero_search``, ``/v2/heroes`` -> ``v2_heroes``), since two routers
  of one app cannot share a prefix;
- the collection name is the table name with the default prefix, the item name otherwise;
- a nested router puts its parent's item name first (``team_hero``, ``team_heroes``).

Operation ids (and route names) are ``list_{collection}``, ``get_{item}``, ``create_{item}``,
``replace_{item}``, ``update_{item}``, ``delete_{item}``, ``bulk_create_{item}``...; a prefix
the router is included under (``/api/v1``) stays out of them unless two operations of one app
would share an id, and then its static segments follow the verb (``list_v2_heroes``); derived
schemas are the item name in CamelCase plus ``Create``, ``Update``, ``Page`` or ``Fields``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^0-9a-zA-Z]+")
_PARAM = re.compile(r"\{[^}]*\}")


def snake(text: str) -> str:
    """``HeroTag`` -> ``hero_tag``, ``hero-search`` -> ``hero_search``."""
    words = _NOT_WORD.sub("_", _CAMEL.sub("_", text)).strip("_")
    return words.lower() or "item"


def camel(text: str) -> str:
    """``hero_search`` -> ``HeroSearch``."""
    return "".join(part[:1].upper() + part[1:] for part in snake(text).split("_"))


@dataclass(frozen=True)
class Names:
    """The item and collection names of one router."""

    item: str
    collection: str

    @classmethod
    def build(
        cls, model_name: str, table: str, prefix: str, parent_item: str | None = None
    ) -> Names:
        segments = [s for s in _PARAM.sub("", prefix).split("/") if s]
        if segments == [table]:
            item, collection = snake(model_name), snake(table)
        else:
            item = collection = snake("_".join(segments))
        if parent_item is not None:
            item, collection = f"{parent_item}_{item}", f"{parent_item}_{collection}"
        return cls(item, collection)

    def operation_id(self, verb: str, outer_prefix: str = "") -> str:
        """``list_heroes``, ``get_hero``, ``bulk_create_hero``...; with ``outer_prefix`` (a
        prefix the router is included under, kept only where two operations of an app would
        otherwise share a name) its static segments follow the verb: ``list_v2_heroes``."""
        rest = self.collection if verb == "list" else self.item
        segments = [s for s in _PARAM.sub("", outer_prefix).split("/") if s]
        if segments:
            rest = f"{snake('_'.join(segments))}_{rest}"
        return f"{verb}_{rest}"

    def schema(self, suffix: str) -> str:
        """``HeroCreate``, ``HeroPage``, ..."""
        return camel(self.item) + suffix
