"""Checks before measuring: every variant answers every route, with the same JSON."""

from __future__ import annotations

from typing import Any

from .models import READ_KEYS, TEAM_READ_KEYS
from .routes import BULK_ROWS, ROWS, RequestMaker, Route, caveat, route_for
from .server import fetch

PAGE_KEYS = {"items", "total"}
"""A page has at least these; extras (such as a cursor) are allowed but not compared."""


class SanityError(RuntimeError):
    """A variant answered differently from the others, or not with a success."""


class SanityChecker:
    """Checks each server of one database; the first answers become the reference."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.reference: dict[str, Any] = {}

    def check(self, port: int, variant: str, routes: list[Route]) -> None:
        # Fixed reads first, on the fresh copy, so every variant must give identical JSON.
        hero = self._get(port, variant, "/heroes/1")
        self._item(variant, "GET /heroes/1", hero)
        self._same(variant, "GET /heroes/1", hero)
        first = route_for("list", self.db, variant).target
        page = _page_of(variant, self._get(port, variant, first))
        self._page(variant, "GET /heroes", page, ROWS[self.db])
        self._same(variant, "GET /heroes", _common(page))
        for route in routes:
            request = RequestMaker(route, f"sanity-{variant}", seed=1).next()
            label = f"{route.name}: {request.method} {request.target}"
            status, body = fetch(port, request.method, request.target, request.body)
            if not 200 <= status < 300:
                raise SanityError(f"{variant} {label} gave {status}: {body}")
            if variant == "fastcrud" and route.name == "patch":
                continue  # FastCRUD answers null (see `benchmarks.routes.caveat`)
            if route.method == "GET" and "{id}" not in route.target:
                body = _page_of(variant, body)
                self._page(variant, label, body, None)
                if route.name == "list_filtered":
                    self._filtered(variant, label, body)
                elif route.name in ("list_deep", "list_team"):
                    self._same(variant, route.name, _common(body))
            elif route.name == "bulk_create":
                if not isinstance(body, list) or len(body) != BULK_ROWS:
                    raise SanityError(f"{variant} {label}: expected {BULK_ROWS} rows")
                for item in body:
                    self._item(variant, label, item)
            else:
                self._item(variant, label, body)

    def _get(self, port: int, variant: str, target: str) -> Any:
        status, body = fetch(port, "GET", target)
        if status != 200:
            raise SanityError(f"{variant} GET {target} gave {status}: {body}")
        return body

    def _item(self, variant: str, label: str, item: Any) -> None:
        keys = TEAM_READ_KEYS if "with-team" in label else READ_KEYS
        if not isinstance(item, dict) or tuple(sorted(item)) != tuple(sorted(keys)):
            raise SanityError(f"{variant} {label}: expected keys {keys}, got {item}")

    def _page(self, variant: str, label: str, page: Any, total: int | None) -> None:
        if not isinstance(page, dict) or not PAGE_KEYS <= set(page):
            raise SanityError(f"{variant} {label}: expected a page {PAGE_KEYS}, got {page}")
        if total is not None and page["total"] != total:
            raise SanityError(f"{variant} {label}: total {page['total']}, expected {total}")
        if not page["items"]:
            raise SanityError(f"{variant} {label}: no items")
        for item in page["items"]:
            self._item(variant, label, item)

    def _same(self, variant: str, label: str, body: Any) -> None:
        reference = self.reference.setdefault(label, (variant, body))
        if reference[1] != body:
            raise SanityError(
                f"{variant} {label} differs from {reference[0]}:\n{body}\n!=\n{reference[1]}"
            )

    def _filtered(self, variant: str, label: str, page: Any) -> None:
        ages = [item["age"] for item in page["items"]]
        if any(age is None or age < 30 for age in ages):
            raise SanityError(f"{variant} {label}: ages {ages} include some under 30")
        if caveat(variant, "list_filtered") is None:
            if ages != sorted(ages, reverse=True):
                raise SanityError(f"{variant} {label}: ages {ages} not sorted descending")
            self._same(variant, "list_filtered", _common(page))


def _page_of(variant: str, body: Any) -> Any:
    """A page in the shape the other variants use: FastCRUD's ``data`` and ``total_count``."""
    if variant == "fastcrud" and isinstance(body, dict) and "data" in body:
        return {"items": body["data"], "total": body.get("total_count")}
    return body


def _common(page: dict[str, Any]) -> dict[str, Any]:
    return {key: page[key] for key in PAGE_KEYS}
