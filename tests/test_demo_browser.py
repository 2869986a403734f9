"""The demo as a new user meets it: the heroes example under uvicorn, opened in headless Chromium
with every host but 127.0.0.1 unreachable, as on a network without internet.

``./scripts/test`` installs Debian's chromium when it can (as root with apt-get); elsewhere the
browser checks are skipped with the reason, except in CI, where they must run.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
OPERATIONS = {
    ("GET", "/heroes"),
    ("POST", "/heroes"),
    ("GET", "/heroes/{item_id}"),
    ("PUT", "/heroes/{item_id}"),
    ("PATCH", "/heroes/{item_id}"),
    ("DELETE", "/heroes/{item_id}"),
    ("GET", "/teams"),
    ("POST", "/teams"),
}


def find_browser() -> str | None:
    override = os.environ.get("CRUDROUTER_CHROMIUM")
    if override:
        return override
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser() -> str:
    path = find_browser()
    if path is None:
        reason = (
            "no headless browser: install Debian's chromium (apt-get install chromium; "
            "./scripts/test does so when run as root) or set CRUDROUTER_CHROMIUM"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the browser test, but found {reason}")
        pytest.skip(reason)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The heroes example served by uvicorn, as ./scripts/demo serves it; yields its base URL."""
    port = free_port()
    data = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "SQLALCHEMY_URL": f"sqlite+aiosqlite:///{data / 'heroes.db'}"}
    env.pop("DATABASE_URL", None)
    log = (data / "uvicorn.log").open("w")
    command = [sys.executable, "-m", "uvicorn", "examples.heroes:app", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo did not start: {(data / 'uvicorn.log').read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        # No internet: every host but the demo's fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--virtual-time-budget=20000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_root_redirects_to_docs_and_assets_are_served_locally(demo: str) -> None:
    r = httpx.get(f"{demo}/")
    assert r.status_code == 307, r.text
    assert r.headers["location"] == "/docs"
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = httpx.get(f"{demo}{page}").text
        urls = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert urls and all(u.startswith("/") for u in urls), urls  # nothing from a CDN
        assert any(u.endswith(asset) for u in urls), urls
        for url in urls:
            r = httpx.get(f"{demo}{url}")
            assert r.status_code == 200, (url, r.status_code)


def test_docs_render_the_operations_in_a_browser(
    demo: str, browser: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = chromium(browser, tmp_path / "profile", "--dump-dom", f"{demo}/")
    dom = result.stdout
    assert "swagger-ui" in dom, result.stderr[-2000:]
    rendered = set(
        re.findall(
            r'opblock-summary-method">(\w+)</span>.*?data-path="([^"]+)"', dom, flags=re.DOTALL
        )
    )
    assert OPERATIONS <= rendered, sorted(rendered)
    assert "List heroes" in dom and "Create a Hero" in dom

    screenshot = tmp_path / "docs.png"
    chromium(
        browser,
        tmp_path / "profile",
        "--window-size=1280,1400",
        f"--screenshot={screenshot}",
        f"{demo}/",
    )
    assert screenshot.exists() and screenshot.stat().st_size > 10_000, "no screenshot was taken"
    with capsys.disabled():
        print(f"\nscreenshot of {demo}/ (Swagger UI at /docs): {screenshot}")


def test_redoc_renders_in_a_browser(demo: str, browser: str, tmp_path: Path) -> None:
    result = chromium(browser, tmp_path / "profile", "--dump-dom", f"{demo}/redoc")
    operations = set(re.findall(r'id="operation/(\w+)"', result.stdout))
    assert {"list_heroes", "create_hero"} <= operations, sorted(operations) or result.stderr[-2000:]
