"""Files a newcomer copies or relies on say what the code does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from entrypoints.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def env_example() -> dict[str, str]:
    """The uncommented ``NAME=value`` lines of .env.example."""
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.isupper() and not line.startswith("#"):
            values[name] = value
    return values


def test_env_example_shows_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    values = env_example()
    assert "SIMULATOR_RUN_SECONDS" in values and "LOG_FORMAT" in values
    for name in values:
        monkeypatch.delenv(name, raising=False)
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    given = Settings(_env_file=None, **{k.lower(): v for k, v in values.items()})  # type: ignore[call-arg]
    for name in values:
        assert getattr(given, name.lower()) == getattr(defaults, name.lower()), name


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_sqlite_side_files_are_ignored() -> None:
    names = ["tarsify.db", "tarsify.db-journal", "tarsify.db-wal", "tarsify.db-shm"]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *names],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.stdout.split() == names
