"""Throwaway PostgreSQL servers for the test suite (stdlib only)."""

from __future__ import annotations

import atexit
import os
import pathlib
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
from types import TracebackType

_PG_USER = "postgres"


def _version_key(path: pathlib.Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def find_pg_bindir() -> pathlib.Path | None:
    """Locate the PostgreSQL server binaries.

    Tries the newest ``/usr/lib/postgresql/*/bin``, then ``pg_config --bindir``, then
    ``initdb`` on ``PATH`` (symlinks resolved).

    Returns:
        The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None when not installed.
    """
    globbed = pathlib.Path("/usr/lib/postgresql").glob("*/bin")
    candidates = sorted(globbed, key=_version_key, reverse=True)
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(pathlib.Path(out.stdout.strip()))
    if initdb := shutil.which("initdb"):
        candidates.append(pathlib.Path(initdb).resolve().parent)
    for path in candidates:
        if all((path / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """A throwaway PostgreSQL cluster under a temp dir, listening on 127.0.0.1 on a free port.

    When running as root, the server runs as the ``postgres`` system user.

    Args:
        bindir: Directory with the server binaries; found with `find_pg_bindir` when None.

    Raises:
        RuntimeError: When the binaries or (as root) the ``postgres`` user cannot be found.
    """

    def __init__(self, bindir: pathlib.Path | None = None) -> None:
        found = bindir if bindir is not None else find_pg_bindir()
        if found is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")
        self._bindir = found
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam(_PG_USER)
            except KeyError:
                raise RuntimeError(
                    f"running as root but there is no {_PG_USER!r} system user to run PostgreSQL"
                    " as (install the postgresql package or create the user)"
                ) from None
        self._port = _free_port()
        self._version: str | None = None
        self._base = pathlib.Path(tempfile.mkdtemp(prefix="pgtest-"))
        self._base.chmod(0o755)
        self._data = self._base / "data"
        self._data.mkdir(mode=0o700)
        self._log = self._base / "postgres.log"
        self._log.touch(mode=0o644)
        if self._owner is not None:
            for path in (self._base, self._data, self._log):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        atexit.register(self.cleanup)

    @property
    def port(self) -> int:
        """The TCP port the server listens on (fixed for the lifetime of the object)."""
        return self._port

    @property
    def version(self) -> str:
        """The server version, e.g. ``"15.18"``, from ``postgres --version``."""
        if self._version is None:
            out = self._run([str(self._bindir / "postgres"), "--version"], as_owner=False)
            match = re.search(r"\(PostgreSQL\)\s+(\S+)", out)
            self._version = match.group(1) if match else out.strip()
        return self._version

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        """Build a SQLAlchemy URL for a database on this server.

        Args:
            database: Database name.
            driver: SQLAlchemy dialect+driver.

        Returns:
            E.g. ``postgresql+asyncpg://postgres@127.0.0.1:PORT/postgres``.
        """
        return f"{driver}://{_PG_USER}@127.0.0.1:{self._port}/{database}"

    def _run(self, cmd: list[str], as_owner: bool = True, check: bool = True) -> str:
        if as_owner and self._owner is not None:
            if runuser := shutil.which("runuser"):
                cmd = [runuser, "-u", _PG_USER, "--", *cmd]
            else:
                cmd = ["su", _PG_USER, "-s", "/bin/sh", "-c", shlex.join(cmd)]
        proc = subprocess.run(
            cmd,
            cwd=self._base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}")
        return proc.stdout

    def start(self) -> None:
        """Start the server (running initdb first if needed); restarts reuse cluster and port.

        Raises:
            RuntimeError: With the tail of the server log when the server fails to start.
        """
        if not (self._data / "PG_VERSION").exists():
            initdb = [str(self._bindir / "initdb"), "-D", str(self._data), "-U", _PG_USER]
            self._run([*initdb, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            with (self._data / "postgresql.conf").open("a") as conf:
                conf.write(
                    f"\nlisten_addresses = '127.0.0.1'\nport = {self._port}\n"
                    f"unix_socket_directories = '{self._base}'\nfsync = off\n"
                    "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
                )
        pg_ctl = [str(self._bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self._data)]
        try:  # -w: pg_ctl returns once the server accepts connections
            self._run([*pg_ctl, "-l", str(self._log)])
        except RuntimeError as exc:
            tail = "\n".join(self._log.read_text(errors="replace").splitlines()[-40:])
            raise RuntimeError(f"PostgreSQL failed to start: {exc}\n--- log:\n{tail}") from exc

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; does nothing when it is not running.

        Args:
            mode: ``pg_ctl`` shutdown mode: ``smart``, ``fast`` or ``immediate``.
        """
        pg_ctl = [str(self._bindir / "pg_ctl"), "-D", str(self._data)]
        if "server is running" in self._run([*pg_ctl, "status"], check=False):
            self._run([*pg_ctl, "stop", "-m", mode, "-w"])

    def cleanup(self) -> None:
        """Stop the server and delete its temp dir; safe to call more than once."""
        atexit.unregister(self.cleanup)
        if self._base.exists():
            try:
                self.stop("immediate")
            finally:
                shutil.rmtree(self._base, ignore_errors=True)

    def pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        pid_file = self._data / "postmaster.pid"
        if not pid_file.exists():
            return []
        root = int(pid_file.read_text().split()[0])
        children: dict[int, list[int]] = {}
        for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [root]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def freeze(self) -> None:
        """Stop every process of the server (SIGSTOP): it accepts TCP connections (the kernel
        does) but answers nothing, like a hung host."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen server (SIGCONT), and any process it started meanwhile."""
        for _ in range(2):
            self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass  # a backend that exited meanwhile

    def create_database(self, name: str) -> None:
        """Create a database with ``psql`` (the server must be running).

        Args:
            name: Database name (quoted as an identifier).
        """
        ident = '"' + name.replace('"', '""') + '"'
        psql = [str(self._bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        conn = ["-h", "127.0.0.1", "-p", str(self._port), "-U", _PG_USER, "-d", "postgres"]
        self._run([*psql, *conn, "-c", f"CREATE DATABASE {ident}"], as_owner=False)

    def start_replica(self) -> PostgresServer:
        """A streaming replica of this (running) server: ``pg_basebackup -R`` into a new temp
        dir, started on its own port. Clean it up with its `cleanup`.

        Returns:
            The replica; it is read-only (``pg_is_in_recovery()`` is true).
        """
        replica = PostgresServer(self._bindir)
        basebackup = [str(self._bindir / "pg_basebackup"), "-D", str(replica._data), "-R"]
        conn = ["-h", "127.0.0.1", "-p", str(self._port), "-U", _PG_USER, "-X", "stream"]
        replica._run([*basebackup, *conn, "--no-sync", "-c", "fast"])
        with (replica._data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {replica._port}\nunix_socket_directories = '{replica._base}'\n"
                "hot_standby = on\nhot_standby_feedback = on\n"
            )
        replica.start()
        return replica

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
