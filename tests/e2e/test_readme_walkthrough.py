"""README's walkthrough works as written: the run command's server, then every snippet."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def walkthrough_script(port: int) -> str:
    """Every ```sh block of the Walkthrough section, pointed at ``port``."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Walkthrough") : text.index("## Architecture")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= 4
    script = "\n".join(blocks).replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in script
    return "set -euo pipefail\n" + script


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """``tarsify serve --demo`` (the README run command's server) on a free port."""
    port = unused_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'walk.db'}",
        "SIMULATOR_QUEUE_SECONDS": "0.2",
        "SIMULATOR_RUN_SECONDS": "1.0",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    tokens: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.match(r"\s*export (\w+_TOKEN)=(\S+)", line)
            if found:
                tokens[found.group(1)] = found.group(2)
            if "tarsify serving on" in line or time.monotonic() > deadline:
                break
        assert set(tokens) == {"CONSUMER_TOKEN", "DEVELOPER_TOKEN", "ADMIN_TOKEN"}
        yield port, tokens
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_walkthrough_runs_as_written(
    demo_server: tuple[int, dict[str, str]], tmp_path: Path
) -> None:
    port, tokens = demo_server
    result = subprocess.run(
        ["bash", "-c", walkthrough_script(port)],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), **tokens},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "COMPLETED" in result.stdout
    assert "CANCELLED" in result.stdout
    assert (tmp_path / "portrait.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    wav = (tmp_path / "story.wav").read_bytes()
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
