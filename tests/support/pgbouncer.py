"""A throwaway PgBouncer in transaction pooling mode in front of a test PostgreSQL server."""

from __future__ import annotations

import atexit
import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tests.support.pg import PostgresServer, _free_port


def find_pgbouncer() -> str | None:
    """The ``pgbouncer`` binary (``apt-get install pgbouncer``), or None."""
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None
    )


class PgBouncer:
    """PgBouncer on 127.0.0.1 and a free port, pooling every database of ``server`` in
    transaction mode (a server connection per transaction, as most deployments use it).

    PgBouncer refuses to run as root; as root it runs as the ``postgres`` user.
    """

    def __init__(self, server: PostgresServer, binary: str, pool_size: int = 10) -> None:
        self.server = server
        self.port = _free_port()
        self._binary = binary
        self._base = pathlib.Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self._base.chmod(0o755)
        ini = self._base / "pgbouncer.ini"
        users = self._base / "users.txt"
        users.write_text('"postgres" ""\n')
        ini.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={server.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {users}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {pool_size}\nmax_client_conn = 500\n"
            f"logfile = {self._base / 'pgbouncer.log'}\n"
            f"pidfile = {self._base / 'pgbouncer.pid'}\n"
        )
        self._owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._owner is not None:
            for path in (self._base, ini, users):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        self._proc: subprocess.Popen[bytes] | None = None
        atexit.register(self.cleanup)

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        cmd = [self._binary, str(self._base / "pgbouncer.ini")]
        if self._owner is not None:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self._proc.poll() is not None:
                    break
                time.sleep(0.05)
        log = self._base / "pgbouncer.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"PgBouncer did not start:\n{tail}")

    def cleanup(self) -> None:
        atexit.unregister(self.cleanup)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)  # immediate shutdown
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._base, ignore_errors=True)
