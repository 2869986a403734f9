"""Throwaway MariaDB servers for the test suite, like `tests.support.pg` (stdlib only)."""

from __future__ import annotations

import atexit
import os
import pathlib
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time

from tests.support.pg import _free_port

_USER = "mysql"


def find_mariadb() -> tuple[pathlib.Path, pathlib.Path] | None:
    """The server (``mariadbd``) and ``mariadb-install-db``, or None when not installed."""
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/libexec")
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if server and install:
        return pathlib.Path(server), pathlib.Path(install)
    return None


class MariaDBServer:
    """A MariaDB server under a temp dir, on 127.0.0.1 and a free port, without passwords
    (``--skip-grant-tables``), with a case- and accent-sensitive default collation
    (``utf8mb4_bin``) so text compares as it does on PostgreSQL and SQLite.

    As root it runs as the ``mysql`` system user the package creates.
    """

    def __init__(self, binaries: tuple[pathlib.Path, pathlib.Path] | None = None) -> None:
        found = binaries or find_mariadb()
        if found is None:
            raise RuntimeError("MariaDB server binaries (mariadbd, mariadb-install-db) not found")
        self._server, self._install = found
        self._owner = pwd.getpwnam(_USER) if os.geteuid() == 0 else None
        self.port = _free_port()
        self._base = pathlib.Path(tempfile.mkdtemp(prefix="mariadbtest-"))
        self._base.chmod(0o755)
        self._data = self._base / "data"
        self._data.mkdir()
        # Temporary tables of its own: two servers (a pytest-xdist worker each) bootstrapping
        # at once in the shared /tmp can remove each other's.
        self._tmp = self._base / "tmp"
        self._tmp.mkdir()
        if self._owner is not None:
            for path in (self._base, self._data, self._tmp):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        self._proc: subprocess.Popen[bytes] | None = None
        self._version: str | None = None
        atexit.register(self.cleanup)

    @property
    def version(self) -> str:
        if self._version is None:
            out = subprocess.run([str(self._server), "--version"], capture_output=True, text=True)
            match = re.search(r"Ver\s+(\S+)", out.stdout)
            self._version = match.group(1) if match else out.stdout.strip()
        return self._version

    def url(self, database: str = "mysql", driver: str = "mysql+aiomysql") -> str:
        return f"{driver}://root@127.0.0.1:{self.port}/{database}"

    def _options(self) -> list[str]:
        user = [f"--user={_USER}"] if self._owner is not None else []
        return [
            "--no-defaults",
            f"--datadir={self._data}",
            f"--tmpdir={self._tmp}",
            *user,
        ]

    def start(self) -> None:
        if not (self._data / "mysql").exists():
            subprocess.run(
                [str(self._install), *self._options(), "--auth-root-authentication-method=normal",
                 "--skip-test-db"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            )  # fmt: skip
        log = self._base / "server.log"
        self._proc = subprocess.Popen(
            [
                str(self._server),
                *self._options(),
                "--bind-address=127.0.0.1",
                f"--port={self.port}",
                f"--socket={self._base / 'mysqld.sock'}",
                f"--pid-file={self._base / 'mysqld.pid'}",
                f"--log-error={log}",
                "--skip-grant-tables",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_bin",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--innodb-buffer-pool-size=64M",
                "--innodb-lock-wait-timeout=10",
                "--max-connections=300",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise RuntimeError(f"MariaDB did not start:\n{tail}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def cleanup(self) -> None:
        atexit.unregister(self.cleanup)
        try:
            self.stop()
        finally:
            shutil.rmtree(self._base, ignore_errors=True)
