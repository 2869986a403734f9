"""One variant served by uvicorn in its own process, pinned to one core, killed reliably."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .apps import URL_VARIABLE

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0


SERVER_CONFIGS = {
    "asyncio": ["--loop", "asyncio", "--http", "h11"],
    "uvloop": ["--loop", "uvloop", "--http", "httptools"],
}
"""uvicorn's pure-Python loop and parser, and what ``uvicorn[standard]`` users get."""


def uvicorn_flags(config: str = "asyncio") -> list[str]:
    """The loop and HTTP parser flags of a server configuration (``asyncio`` or ``uvloop``)."""
    return SERVER_CONFIGS[config]


def missing_modules(config: str) -> list[str]:
    """The modules a server configuration needs that are not installed."""
    needs = ("uvloop", "httptools") if config == "uvloop" else ()
    return [name for name in needs if importlib.util.find_spec(name) is None]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(
    port: int, method: str, target: str, body: bytes | None = None, timeout: float = 10.0
) -> tuple[int, Any]:
    """One request; the status and the JSON body (None when the body is empty)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        conn.close()


class Server:
    """``uvicorn benchmarks.apps.<variant>:app`` on a free port, as a context manager.

    Args:
        variant: the module under `benchmarks.apps`.
        url: the database URL, passed in ``BENCH_DATABASE_URL``.
        pin: the command prefix that pins the process, such as ``["taskset", "-c", "0"]``.
        log: where the server's output goes.
        workers: uvicorn worker processes (``--workers``); 1 serves from one process.
        config: the loop and HTTP parser, a key of `SERVER_CONFIGS`.
    """

    def __init__(
        self,
        variant: str,
        url: str,
        pin: list[str],
        log: Path,
        workers: int = 1,
        config: str = "asyncio",
    ) -> None:
        self.variant = variant
        self.workers = workers
        self.config = config
        self.url = url
        self.pin = pin
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id (taskset execs the server, so it is the same process)."""
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        app = f"benchmarks.apps.{self.variant}:app"
        return [
            *self.pin,
            sys.executable,
            *("-m", "uvicorn", app, "--host", HOST, "--port", str(self.port)),
            *("--log-level", "warning", "--no-access-log", *uvicorn_flags(self.config)),
            *(("--workers", str(self.workers)) if self.workers > 1 else ()),
        ]

    def __enter__(self) -> Server:
        env = {**os.environ, URL_VARIABLE: self.url, "PYTHONDONTWRITEBYTECODE": "1"}
        with self.log.open("ab") as log:
            # A session of its own: Ctrl-C reaches the runner, which then stops the server.
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.variant} server exited:\n{self.log_tail()}")
            try:
                fetch(self.port, "GET", "/heroes/1", timeout=2.0)
                return
            except (OSError, http.client.HTTPException, ValueError):
                time.sleep(0.1)
        raise RuntimeError(f"{self.variant} server not ready in {READY_TIMEOUT:.0f}s")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after 10 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


@dataclass(frozen=True)
class Pinning:
    """Which cores the server and the load generator (and PostgreSQL) run on."""

    server: list[str]
    load: list[str]
    load_cpu: int | None
    text: str


def pinning() -> Pinning:
    """taskset prefixes for the server and the load generator: two different cores."""
    cpus = sorted(os.sched_getaffinity(0))
    taskset = shutil.which("taskset")
    if taskset and len(cpus) >= 2:
        server, load = str(cpus[0]), str(cpus[1])
        text = f"server `taskset -c {server}`, load generator `taskset -c {load}`"
        return Pinning([taskset, "-c", server], [taskset, "-c", load], cpus[1], text)
    why = "taskset not found" if not taskset else "fewer than two cores"
    print(f"warning: {why}; server and load generator are not pinned", file=sys.stderr)
    return Pinning([], [], None, f"not pinned ({why})")
