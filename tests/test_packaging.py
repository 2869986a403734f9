"""The release artefacts: the wheel and sdist build, pass ``twine check``, carry complete metadata,
and the sdist leaves out the tests (which need the repository around them)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import crudrouter_sqla

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist and the wheel once, into a temporary directory (not the checkout)."""
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: setuptools comes from the test environment, so no download is needed.
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out


def only(paths: list[Path]) -> Path:
    assert len(paths) == 1, paths
    return paths[0]


def test_twine_check_passes(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sizes = {p.name: p.stat().st_size for p in dist.iterdir()}
    print("built:", ", ".join(f"{name} {size / 1024:.1f} KiB" for name, size in sizes.items()))


def test_wheel_metadata_is_complete(dist: Path) -> None:
    wheel = only(list(dist.glob("*.whl")))
    assert wheel.name == f"crudrouter_sqla-{crudrouter_sqla.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = f"crudrouter_sqla-{crudrouter_sqla.__version__}.dist-info"
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        assert "MIT License" in archive.read(f"{info}/licenses/LICENSE").decode()
    assert "crudrouter_sqla/py.typed" in names
    assert "crudrouter_sqla/core/__init__.py" in names
    assert "crudrouter_sqla/testing.py" in names
    assert not [n for n in names if n.startswith(("tests/", "examples/", "docs/"))], names
    assert metadata["Version"] == crudrouter_sqla.__version__
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "generic CRUD router factory" in metadata.get_payload()
    classifiers = set(metadata.get_all("Classifier"))
    for classifier in (
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Framework :: FastAPI",
        "Framework :: AsyncIO",
        "Typing :: Typed",
    ):
        assert classifier in classifiers
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert urls["Repository"] == "https://github.com/crudrouter-sqla/crudrouter-sqla"
    assert {"Homepage", "Documentation", "Issues"} <= urls.keys()
    extras = set(metadata.get_all("Provides-Extra"))
    assert {"postgres", "testing", "docs", "demo", "test"} <= extras


def test_sdist_builds_the_package_and_leaves_out_the_tests(dist: Path) -> None:
    sdist = only(list(dist.glob("*.tar.gz")))
    with tarfile.open(sdist) as archive:
        names = [n.split("/", 1)[1] for n in archive.getnames() if "/" in n]
    assert {"LICENSE", "README.md", "pyproject.toml", "crudrouter_sqla/__init__.py"} <= set(names)
    leaked = [n for n in names if n.startswith(("tests", "examples", "benchmarks", "docs/"))]
    assert not leaked, leaked


def test_version_has_one_source() -> None:
    from importlib.metadata import version

    assert version("crudrouter-sqla") == crudrouter_sqla.__version__
    assert "version =" not in (ROOT / "pyproject.toml").read_text().split("[project]")[1].split(
        "[project.urls]"
    )[0].replace("dynamic", "")
