"""The docs site: every page is in the nav, and the API reference covers every public name.
(``./scripts/test`` builds the site with ``mkdocs build --strict``.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import crudrouter_sqla
import crudrouter_sqla.core
import crudrouter_sqla.testing

ROOT = Path(__file__).resolve().parent.parent


def nav_pages(nav: list) -> set[str]:
    pages: set[str] = set()
    for entry in nav:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            pages |= nav_pages(value) if isinstance(value, list) else {value}
    return pages


def test_every_page_is_in_the_nav() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert nav_pages(config["nav"]) == pages


def test_the_reference_covers_every_public_name() -> None:
    text = (ROOT / "docs" / "reference.md").read_text()
    documented = set(re.findall(r"^::: ([\w.]+)", text, flags=re.MULTILINE))
    core = crudrouter_sqla.core
    missing = [
        f"crudrouter_sqla.core.{n}"
        for n in core.__all__
        if f"{core.__name__}.{n}" not in documented
    ]
    for name in crudrouter_sqla.__all__:
        own = f"crudrouter_sqla.{name}"
        from_core = f"crudrouter_sqla.core.{name}" if name in core.__all__ else None
        if own not in documented and from_core not in documented:
            missing.append(own)
    for name in crudrouter_sqla.testing.__all__:
        if f"crudrouter_sqla.testing.{name}" not in documented:
            missing.append(f"crudrouter_sqla.testing.{name}")
    assert not missing, f"add to docs/reference.md: {missing}"


def test_the_mkdocs_build_runs_in_the_test_script() -> None:
    script = (ROOT / "scripts" / "test").read_text()
    assert "mkdocs build --strict" in script
