"""Every ```python block of the README, the docs pages and the package's docstrings runs.

Each block runs in a fresh module, in a temporary directory, with ``SQLALCHEMY_URL`` set to an
in-memory SQLite database. A block that leaves a FastAPI ``app`` behind is also started and asked
for ``/openapi.json``. A block whose first line starts with ``# not run`` is skipped; one whose
first line starts with ``# continued`` runs after the blocks before it on the same page, in their
module, so a page can build one example step by step.
"""

from __future__ import annotations

import ast
import asyncio
import re
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("docs/*.md"))]
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
SKIP_MARK = "# not run"
CONTINUE_MARK = "# continued"


@dataclass(frozen=True)
class Block:
    """One code block: where it is (``line`` is its first line of code) and its source."""

    path: str
    number: int
    line: int
    source: str

    @property
    def id(self) -> str:
        return f"{self.path}:{self.number}"


def blocks_in_text(text: str, path: str, first_line: int = 1) -> list[Block]:
    found = []
    for number, match in enumerate(FENCE.finditer(text), start=1):
        line = first_line + text.count("\n", 0, match.start("body"))
        found.append(Block(path, number, line, textwrap.dedent(match.group("body"))))
    return found


def blocks_in_docstrings(path: Path) -> list[Block]:
    """Blocks in every string statement: module, class and function docstrings, and the
    attribute docstrings that follow an assignment."""
    rel = path.relative_to(ROOT).as_posix()
    found: list[Block] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found.extend(blocks_in_text(node.value.value, rel, node.value.lineno))
    found.sort(key=lambda block: block.line)
    return [Block(b.path, n, b.line, b.source) for n, b in enumerate(found, start=1)]


def collect() -> list[Block]:
    found: list[Block] = []
    for page in PAGES:
        path = ROOT / page
        if path.exists():
            found.extend(blocks_in_text(path.read_text(encoding="utf-8"), page))
    for path in sorted((ROOT / "crudrouter_sqla").rglob("*.py")):
        found.extend(blocks_in_docstrings(path))
    return found


BLOCKS = collect()


async def smoke_test(app: FastAPI) -> None:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get("/openapi.json")
            assert r.status_code == 200, r.text


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in BLOCKS])
def test_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first_line = block.source.lstrip().partition("\n")[0]
    if first_line.startswith(SKIP_MARK):
        pytest.skip(first_line.lstrip("# ").strip())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SQLALCHEMY_URL", "sqlite+aiosqlite://")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    name = "docs_" + re.sub(r"\W", "_", block.id)
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    for part in _chain(block):
        # Leading blank lines make tracebacks point at the block's real lines in its file.
        code = compile("\n" * (part.line - 1) + part.source, str(ROOT / part.path), "exec")
        exec(code, module.__dict__)
    app = module.__dict__.get("app")
    if isinstance(app, FastAPI):
        asyncio.run(smoke_test(app))


def _chain(block: Block) -> list[Block]:
    """The block, after the blocks it continues."""
    page = [b for b in BLOCKS if b.path == block.path and b.number <= block.number]
    chain = [block]
    for earlier in reversed(page[:-1]):
        if not chain[0].source.lstrip().startswith(CONTINUE_MARK):
            break
        chain.insert(0, earlier)
    return chain


def test_blocks_are_found() -> None:
    """Guards the collection itself: a broken pattern would make every page pass silently."""
    sources = {block.path for block in BLOCKS}
    for page in (
        "README.md",
        "docs/index.md",
        "docs/core.md",
        "docs/router.md",
        "docs/pagination.md",
        "docs/migrations.md",
        "docs/testing.md",
        "docs/sqlmodel.md",
    ):
        assert page in sources, f"no ```python block found in {page}"
    assert any(source.startswith("crudrouter_sqla/") for source in sources), sources
    sample = "Text.\n\n    ```python\n    x = 1\n\n    y = 2\n    ```\n"
    assert blocks_in_text(sample, "sample.md") == [Block("sample.md", 1, 4, "x = 1\n\ny = 2\n")]
