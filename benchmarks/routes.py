"""The measured routes: what each request looks like, for the Python generator and for wrk."""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass

ROUTES = (
    "get",
    "list",
    "list_deep",
    "create",
    "patch",
    "list_filtered",
    "list_nocount",
    "keyset_deep",
    "get_team",
    "list_team",
    "bulk_create",
    "get_tenant",
    "list_tenant",
)
TENANT = 1
"""The tenant (a team) of the ``get_tenant`` and ``list_tenant`` routes: heroes of team 1."""
TENANT_STEP = 10
"""Heroes of team 1 have ids that are multiples of 10 (see `benchmarks.seed`; one in seven of
them has no team, and is a 404 to every variant alike)."""
BULK_ROWS = 100
"""Rows in one ``bulk_create`` request (crud only: ``POST /heroes/bulk``)."""
DEFAULT_ROUTES = ("get", "list", "list_deep", "create", "patch")
VARIANTS = ("crud", "handwritten", "ceiling", "fastcrud")
BASELINE = "handwritten"
PEERS = ("handwritten", "ceiling", "fastcrud")
"""What ``crud`` is compared with, in the ratio tables."""
TARGETS = {"handwritten": 1.1, "ceiling": 0.9, "fastcrud": 2.0}
"""The least req/s ratio of crud to each peer that the performance issue asks for."""

UNSERVED = {
    "handwritten": frozenset({"bulk_create"}),
    "ceiling": frozenset({"bulk_create", "get_tenant", "list_tenant"}),
    "fastcrud": frozenset({"bulk_create", "get_team", "list_team", "get_tenant", "list_tenant"}),
}
"""Routes a variant has no endpoint for; they are left out of its measurements."""


def serves(variant: str, route: str) -> bool:
    """Whether ``variant`` has an endpoint for ``route``."""
    return route not in UNSERVED.get(variant, frozenset())


DEEP_OFFSET = {"sqlite": 9_000, "postgres": 90_000}
ROWS = {"sqlite": 10_000, "postgres": 100_000}

FILTERED_QUERY = "age__gte=30&sort=-age"
FASTCRUD_PAGES = frozenset({"list", "list_deep", "list_nocount", "keyset_deep", "list_filtered"})
# How the crud app serves list_filtered. By default with CRUDRouter's query language
# (`filter_fields` / `sort_fields`), sent the same query as the other variants. With this
# variable set to "custom" (`--crud-custom-filter`), the way it had to be done before the query
# language: a custom `filters=[dep]` dependency, no sort, and only the filter is sent.
CRUD_FILTER_VARIABLE = "BENCH_CRUD_FILTER"
CRUD_FILTERED_QUERY = "age__gte=30"


def crud_query_language() -> bool:
    """Whether the crud variant filters and sorts with CRUDRouter's own query language."""
    return os.environ.get(CRUD_FILTER_VARIABLE, "query-language") != "custom"


CURSOR_SECRET = "benchmark-cursor-secret"
"""The crud app's ``cursor_secret``, so that a cursor deep in the table can be made up front."""


def deep_cursor(db: str) -> str:
    """The crud app's cursor that continues after the hero whose id is the deep offset.

    The same bytes the router's ``next_cursor`` carries at that depth (default sort).
    """
    from crudrouter_sqla._query import CursorCodec

    return CursorCodec("heroes", CURSOR_SECRET.encode()).encode("", [DEEP_OFFSET[db]], [int])


def caveat(variant: str, route: str) -> str | None:
    """What makes this variant's measurement of this route not like for like, if anything."""
    if variant == "fastcrud":
        if route in FASTCRUD_PAGES:
            return (
                "FastCRUD's page (`?page=&itemsPerPage=20`) is `{data, total_count, ...}`, "
                "counted exactly, unordered unless `sort` is sent"
            )
        if route == "create":
            return "FastCRUD first checks each unique column with a SELECT, then inserts"
        if route == "patch":
            return "FastCRUD answers `null`, not the updated row"
    if route == "list_nocount" and variant != "crud":
        return "counts exactly (it has no count=none); crud sends count=none"
    if route == "keyset_deep" and variant != "crud":
        return "pages by offset with an exact count (it has no cursors); crud sends a cursor"
    if variant == "crud" and route == "list_filtered" and not crud_query_language():
        return (
            "crud filters through a custom `filters=[dep]` dependency and does NOT sort "
            "(`sort=-age` skipped until CRUDRouter's query language lands)"
        )
    return None


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    body: bytes | None = None


@dataclass(frozen=True)
class Route:
    """One measured route on one database and variant.

    ``target`` may hold ``{id}``: a random id (``step`` × 1..rows) for every request.
    ``body`` is ``create`` (a unique new hero) or ``patch`` (a random ``age``).
    """

    name: str
    method: str
    target: str
    rows: int
    body: str | None = None
    step: int = 1


def route_for(name: str, db: str, variant: str) -> Route:
    """The route ``name`` as the load generator sends it to ``variant`` on ``db``."""
    rows = ROWS[db]
    if variant == "fastcrud" and name in FASTCRUD_PAGES:
        # Only FastCRUD's page mode counts (offset and limit give the rows alone).
        page = DEEP_OFFSET[db] // 20 + 1 if name in ("list_deep", "keyset_deep") else 1
        query = f"{FILTERED_QUERY}&" if name == "list_filtered" else ""
        return Route(name, "GET", f"/heroes?{query}page={page}&itemsPerPage=20", rows)
    if name == "get":
        return Route(name, "GET", "/heroes/{id}", rows)
    if name == "list":
        return Route(name, "GET", "/heroes?offset=0&limit=20", rows)
    if name == "list_deep":
        return Route(name, "GET", f"/heroes?offset={DEEP_OFFSET[db]}&limit=20", rows)
    if name == "create":
        return Route(name, "POST", "/heroes", rows, body="create")
    if name == "patch":
        return Route(name, "PATCH", "/heroes/{id}", rows, body="patch")
    if name == "list_filtered":
        crud_filter_only = variant == "crud" and not crud_query_language()
        query = CRUD_FILTERED_QUERY if crud_filter_only else FILTERED_QUERY
        return Route(name, "GET", f"/heroes?{query}", rows)
    if name == "bulk_create":
        return Route(name, "POST", "/heroes/bulk", rows, body="bulk")
    if name == "get_team":
        return Route(name, "GET", "/heroes-with-team/{id}", rows)
    if name == "list_team":
        return Route(name, "GET", "/heroes-with-team?offset=0&limit=20", rows)
    if name == "get_tenant":
        return Route(name, "GET", "/tenant/heroes/{id}", rows // TENANT_STEP, step=TENANT_STEP)
    if name == "list_tenant":
        return Route(name, "GET", "/tenant/heroes?offset=0&limit=20", rows)
    if name == "list_nocount":
        query = "&count=none" if variant == "crud" else ""
        return Route(name, "GET", f"/heroes?offset=0&limit=20{query}", rows)
    if name == "keyset_deep":
        if variant == "crud":
            return Route(name, "GET", f"/heroes?limit=20&count=none&cursor={deep_cursor(db)}", rows)
        return Route(name, "GET", f"/heroes?offset={DEEP_OFFSET[db]}&limit=20", rows)
    raise ValueError(f"unknown route {name!r}; choose from {', '.join(ROUTES)}")


class RequestMaker:
    """Makes the requests of one route; names of created heroes start with ``prefix``."""

    def __init__(self, route: Route, prefix: str, seed: int | str | None = None) -> None:
        self.route = route
        self.prefix = prefix
        self.counter = 0
        self.rng = random.Random(seed)

    def next(self) -> Request:
        route = self.route
        target = route.target
        if "{id}" in target:
            hero_id = self.rng.randint(1, route.rows) * route.step
            target = target.replace("{id}", str(hero_id))
        body: bytes | None = None
        if route.body == "create":
            self.counter += 1
            name = f"{self.prefix}-{self.counter}"
            hero = {"name": name, "secret_name": "Bench", "age": self.rng.randint(0, 99)}
            body = json.dumps(hero).encode()
        elif route.body == "patch":
            body = json.dumps({"age": self.rng.randint(0, 99)}).encode()
        elif route.body == "bulk":
            heroes = []
            for _ in range(BULK_ROWS):
                self.counter += 1
                name = f"{self.prefix}-b{self.counter}"
                heroes.append(
                    {"name": name, "secret_name": "Bench", "age": self.rng.randint(0, 99)}
                )
            body = json.dumps(heroes).encode()
        return Request(route.method, target, body)
