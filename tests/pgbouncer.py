"""A PgBouncer in transaction pooling mode in front of the test PostgreSQL server, started
on a free loopback port (Debian's ``pgbouncer``), for tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.pg import ADMIN_DSN

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def pgbouncer(pool_size: int = 10) -> Iterator[int]:
    """Run PgBouncer (``pool_mode=transaction``, trust) for every database of the test
    server; yields its port."""
    server = make_url(ADMIN_DSN)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tarsify-pgbouncer-") as folder:
        root = Path(folder)
        (root / "userlist.txt").write_text(f'"{server.username or "postgres"}" ""\n')
        (root / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={server.host or '127.0.0.1'} port={server.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {root / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
            "max_client_conn = 500\n"
            f"logfile = {root / 'pgbouncer.log'}\npidfile = {root / 'pgbouncer.pid'}\n"
            "server_reset_query =\n"
            # After a failed server login PgBouncer waits this long (15 s by default).
            "server_login_retry = 1\n"
        )
        # PgBouncer refuses to run as root; Debian's package has its own user.
        command = [PGBOUNCER, str(root / "pgbouncer.ini")]
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_port(port, proc)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            error = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"pgbouncer exited: {error.strip()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"pgbouncer does not listen on {port}")


def through(url: str, port: int) -> str:
    """``url`` (of the test server) through the PgBouncer on ``port``."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
