"""``tarsify serve`` refuses what it cannot do in one line on standard error and exit 2,
before it migrates or seeds anything: a taken port, a directory it cannot write, an
invalid setting. Real processes, as a newcomer runs them."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

from entrypoints.cli import check
from entrypoints.process import preflight

from .test_serve_process import start

ROOT = Path(__file__).resolve().parents[2]


def serve(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``tarsify serve ...`` in ``cwd`` with only ``env``; a refusal must come at once."""
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "serve", *args],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        timeout=60,  # a server that starts instead of refusing fails the test here
        check=False,
    )


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], *texts: str) -> str:
    """Exit 2, nothing on standard output, one line on standard error holding ``texts``."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tarsify: ") and "Traceback" not in lines[0]
    for text in texts:
        assert text in lines[0], (text, lines[0])
    assert result.stdout == "", "refused before migrating, seeding or printing tokens"
    return lines[0]


def _lines_after(proc: subprocess.Popen[str], count: int) -> str:
    """Up to ``count`` more lines of ``proc``'s output (those printed within seconds)."""
    stdout = proc.stdout
    assert stdout is not None
    lines: list[str] = []

    def read() -> None:
        lines.extend(stdout.readline() for _ in range(count))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)  # a server that prints nothing more leaves the reader blocked
    return "".join(lines)


def test_the_demo_started_twice_refuses_the_taken_port_before_seeding(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    port = unused_port()
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    proc, lines = start(first_dir, port, "--demo")
    procs.append(proc)
    assert any("tarsify serving on" in line for line in lines), lines
    # The banner says what to open and what to press.
    banner = _lines_after(proc, 4)
    assert f"Open http://127.0.0.1:{port}/ in a browser, press Sign in" in banner, banner
    assert "Sign in as the demo consumer" in banner and "press Run" in banner

    second = serve(second_dir, "--demo", "--port", str(port))
    assert_one_line_refusal(second, f"127.0.0.1:{port} is already in use", "--port or PORT")
    assert list(second_dir.iterdir()) == [], "nothing migrated, seeded or created"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_a_port_taken_by_another_program_is_refused(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(tmp_path, "--port", str(port))
    assert_one_line_refusal(result, f"127.0.0.1:{port} is already in use")
    assert not (tmp_path / "tarsify.db").exists()


@pytest.mark.parametrize(
    ("env", "texts"),
    [
        (
            {"DATABASE_URL": "sqlite+aiosqlite:///./blocker/tarsify.db"},
            ["the SQLite database's directory blocker is not a directory", "DATABASE_URL"],
        ),
        (
            {"DATABASE_URL": "sqlite+aiosqlite:///./missing/tarsify.db"},
            ["the SQLite database's directory missing does not exist", "DATABASE_URL"],
        ),
        (
            {"BLOB_FILESYSTEM_ROOT": "./blocker/files"},
            ["the file store directory blocker/files cannot be written", "BLOB_FILESYSTEM_ROOT"],
        ),
    ],
    ids=["database-under-a-file", "database-dir-missing", "file-store-under-a-file"],
)
def test_a_directory_serve_cannot_write_is_named(
    tmp_path: Path, env: dict[str, str], texts: list[str]
) -> None:
    # Root ignores permission bits: a regular file where a directory should be is
    # unwritable for everybody.
    (tmp_path / "blocker").write_text("not a directory")
    result = serve(tmp_path, "--demo", "--port", str(unused_port()), **env)
    assert_one_line_refusal(result, *texts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"], "nothing created"


def test_a_directory_that_refuses_writes_is_found_by_trying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permissions may allow what the file system refuses (a read-only mount, a full
    disk): the directory is tried with a file, and the error named."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(preflight.tempfile, "TemporaryFile", refuse)
    problem = preflight.directory_problem(
        tmp_path, create=False, what="the file store directory", setting="BLOB_FILESYSTEM_ROOT"
    )
    assert problem == (
        f"the file store directory {tmp_path} cannot be written: Read-only file system "
        "(BLOB_FILESYSTEM_ROOT)"
    )
    # tarsify check tries it the same way.
    finding = check._filesystem_root(tmp_path)
    assert (finding.verdict, finding.text) == ("problem", problem)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR"),
        ({"DATABASE_URL": "garbage"}, "DATABASE_URL must start with sqlite+aiosqlite://"),
        ({"DATABASE_URL": "mysql://root:hunter2@db/tarsify"}, "not mysql://"),
        ({"CORS_ORIGINS": "not a url"}, "CORS_ORIGINS must be * or comma-separated origins"),
        ({"CORS_ORIGINS": "https://ok.example,https://app.example/path"}, "CORS_ORIGINS"),
        ({"PORT": "eighty"}, "PORT"),
        ({"FAL_QUEUE_URL": "queue.fal.run"}, "FAL_QUEUE_URL: Value error, must be an http(s) URL"),
        ({"FAL_RUN_URL": "fal.run"}, "FAL_RUN_URL: Value error, must be an http(s) URL"),
        ({"RUNPOD_BASE_URL": "ftp://api.runpod.ai"}, "RUNPOD_BASE_URL: Value error, must be"),
    ],
    ids=[
        "log-level",
        "database-garbage",
        "database-mysql",
        "cors",
        "cors-path",
        "port",
        "fal-queue-url",
        "fal-run-url",
        "runpod-base-url",
    ],
)
def test_an_invalid_setting_is_one_line_naming_it(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    env.setdefault("PORT", str(unused_port()))
    line = assert_one_line_refusal(serve(tmp_path, **env), "invalid configuration", variable)
    assert "hunter2" not in line, "a URL's password is never repeated"
    assert list(tmp_path.iterdir()) == []


def _serve_logs(cwd: Path, *, terminal: bool, **env: str) -> str:
    """Start ``serve`` with standard error on a terminal (or a pipe); its first log line."""
    port = unused_port()
    master, slave = pty.openpty() if terminal else os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port)],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    received = b""
    try:
        deadline = time.monotonic() + 60
        # The development secret's warning is logged as the app is built.
        while b"config.dev_jwt_secret" not in received and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                received += os.read(master, 65536)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        os.close(master)
    text = received.decode().replace("\r\n", "\n")
    return next(line for line in text.splitlines() if "config.dev_jwt_secret" in line)


def test_logs_are_readable_lines_on_a_terminal_and_json_otherwise(tmp_path: Path) -> None:
    on_terminal = _serve_logs(tmp_path, terminal=True)
    assert not on_terminal.startswith("{") and "[warning" in on_terminal, on_terminal
    piped = _serve_logs(tmp_path, terminal=False)
    assert json.loads(piped)["event"] == "config.dev_jwt_secret"
    forced = _serve_logs(tmp_path, terminal=True, LOG_FORMAT="json")
    assert json.loads(forced)["level"] == "warning"
    console = _serve_logs(tmp_path, terminal=False, LOG_FORMAT="console")
    assert not console.startswith("{") and "[warning" in console
