"""README's walkthrough works as written: the run command's server, then every snippet."""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def demo_server(database: Path, cwd: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """``tarsify serve --demo`` (the README run command's server) on a free port."""
    port = unused_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "SIMULATOR_QUEUE_SECONDS": "0.2",
        "SIMULATOR_RUN_SECONDS": "1.0",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--demo", "--port", str(port)],
        cwd=cwd,
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


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def printed_comments() -> list[re.Pattern[str]]:
    """The walkthrough's comments that show an answer's JSON, as patterns of what curl
    prints (``...`` stands for anything)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Walkthrough") : text.index("## Architecture")]
    shown = re.findall(r'# .*?(\{"success".*\})', section)
    assert len(shown) >= 4, shown
    return [re.compile(".*?".join(map(re.escape, item.split("...")))) for item in shown]


def test_the_walkthrough_runs_as_written_twice_on_one_database(tmp_path: Path) -> None:
    database = tmp_path / "walk.db"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    # Twice, with a restart between: the seed and every step must cope with the first run.
    for attempt in (1, 2):
        with demo_server(database, tmp_path) as (port, tokens):
            result = _bash(walkthrough_script(port), tmp_path, {**tokens, "TMPDIR": str(temporary)})
        output = result.stdout[-2000:] + result.stderr[-2000:]
        assert result.returncode == 0, f"run {attempt}: {output}"
        # README's comments show what the commands print, the envelope included (the
        # balance comment is the first run's).
        for printed in printed_comments():
            if attempt == 1 or "balance" not in printed.pattern:
                assert printed.search(result.stdout), printed.pattern
        assert "COMPLETED" in result.stdout and "CANCELLED" in result.stdout
        assert "the retry answered with the same execution" in result.stdout
        assert "Preference-Applied: wait=10" in result.stdout
        # Credits: the completed portrait cost 5, the cancelled run nothing; the demo
        # developer earned 4 + 2 + 4 + 4 (portrait, story, the streamed windmill, the API
        # key's portrait) per run.
        assert "portrait cost: 5" in result.stdout and "cancelled cost: 0" in result.stdout
        # 1000 - 5 - 3 - 5 on a fresh database; the second time the seed finds 1082 (the
        # key's run and the admin's grant of 100 came after) and leaves it.
        balance = 987 if attempt == 1 else 1082 - 5 - 3 - 5
        assert f'"balance":{balance},"held":0' in result.stdout
        assert f"earnings: {14 * attempt}" in result.stdout
        assert result.stdout.rstrip().splitlines().count("401") == 1  # the revoked key
        # The files are saved in a temporary directory, never where the commands run.
        assert not {"portrait.png", "story.wav", "headers.txt"} & {
            p.name for p in tmp_path.iterdir()
        }
        (saved,) = temporary.iterdir()
        assert (saved / "portrait.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        wav = (saved / "story.wav").read_bytes()
        assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
        assert "Preference-Applied" in (saved / "headers.txt").read_text()
        shutil.rmtree(saved)


def test_the_field_helper_shows_api_errors_not_tracebacks(tmp_path: Path) -> None:
    script = walkthrough_script(1)
    end = '\' "$1"; }'
    helper = script[script.index("field() {") : script.index(end) + len(end)]
    error = '{"success": false, "error": {"code": "ERR_3001", "message": "API key not found"}}'
    result = _bash(f"{helper}\necho '{error}' | field id", tmp_path, {})
    assert result.returncode == 1
    assert result.stderr.strip() == "API error ERR_3001: API key not found"
    assert "Traceback" not in result.stderr and result.stdout == ""
    found = _bash(
        f'{helper}\necho \'{{"success": true, "data": [{{"a": 7}}]}}\' | field 0.a', tmp_path, {}
    )
    assert (found.returncode, found.stdout) == (0, "7\n")
