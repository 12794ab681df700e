"""What ``tarsify serve`` checks before it changes anything: the port is free, and the
directories it will write (the SQLite database's, the file store's) can be written.

Each check returns one line saying what is wrong (naming the path or the setting), or
None. They run before migrating and seeding, so a refused start leaves nothing behind.
Permissions alone do not say whether a directory can be written (root ignores them; a
read-only mount does not), so a directory is tried: a temporary file is made in it and
removed.
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (bound and released at once), or None."""
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return f"cannot listen on HOST {host}: {exc.strerror}"
    for family, kind, proto, _name, address in addresses:
        try:
            with socket.socket(family, kind, proto) as sock:
                # As the server binds: a port left in TIME_WAIT is free to use.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
        except OSError as exc:
            where = f"{address[0]}:{port}"
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"{where} is already in use (another tarsify serve?): stop it, "
                    "or choose another port with --port or PORT"
                )
            return f"cannot listen on {where}: {exc.strerror or exc} (HOST, PORT)"
    return None


def directory_problem(directory: Path, *, create: bool, what: str, setting: str) -> str | None:
    """Why files cannot be written in ``directory`` (made first when ``create``), or None.

    ``what`` names the directory in the message, ``setting`` the variable that chose it.
    """
    try:
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        if not directory.is_dir():
            missing = "is not a directory" if directory.exists() else "does not exist"
            return f"{what} {directory} {missing} ({setting})"
        with tempfile.TemporaryFile(dir=directory, prefix=".tarsify-write-test-"):
            pass
    except OSError as exc:
        return f"{what} {directory} cannot be written: {exc.strerror or exc} ({setting})"
    return None


def sqlite_directory(database_url: str) -> Path | None:
    """The directory of a SQLite database file (None: not SQLite, or in memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).parent


def start_problems(database_url: str, blob_root: Path | None) -> list[str]:
    """The directories ``serve`` writes: the SQLite file's (never created: a mistyped
    path should not grow directories), then, when that one is fine, the file store's
    (created, as on first use)."""
    problems: list[str] = []
    database_dir = sqlite_directory(database_url)
    if database_dir is not None:
        problem = directory_problem(
            database_dir,
            create=False,
            what="the SQLite database's directory",
            setting="DATABASE_URL",
        )
        problems += [problem] if problem else []
        database = make_url(database_url).database or ""
        if not problem and Path(database).is_file() and not os.access(database, os.W_OK):
            problems.append(f"the SQLite database {database} cannot be written (DATABASE_URL)")
    if blob_root is not None and not problems:
        problem = directory_problem(
            blob_root, create=True, what="the file store directory", setting="BLOB_FILESYSTEM_ROOT"
        )
        problems += [problem] if problem else []
    return problems
