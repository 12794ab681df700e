"""Files a newcomer copies or relies on say what the code does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from entrypoints.config import VARIABLES, Settings

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
    defaults = Settings.from_variables()
    given = Settings.from_variables(**values)
    for name in values:
        group, field = VARIABLES[name]
        assert getattr(getattr(given, group), field) == getattr(getattr(defaults, group), field), (
            name
        )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_sqlite_side_files_are_ignored() -> None:
    names = ["tarsify.db", "tarsify.db-journal", "tarsify.db-wal", "tarsify.db-shm"]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *names],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.stdout.split() == names


def readme_commands() -> list[str]:
    """The lines of README's first ```sh block (.ci/run runs the second)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("```sh\n") + len("```sh\n") :]
    return block[: block.index("```")].splitlines()


def test_readme_commands_use_python3_and_check_its_version() -> None:
    run, test = readme_commands()
    check = run.split(" && ")[0]
    assert check.startswith("python3 -c '") and "python3.11" not in run.split(" && ", 1)[1]
    assert test.startswith("python3 -m venv .venv && ") and "pytest" in test
    code = check.removeprefix("python3 -c '").removesuffix("'")
    ok = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (ok.returncode, ok.stderr) == (0, "")
    # An older Python stops at once with one line saying what to do.
    old = f"import sys; sys.version_info = (3, 10, 14); exec({code!r})"
    refused = subprocess.run([sys.executable, "-c", old], capture_output=True, text=True)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "Tarsify needs Python 3.11 or newer: put python3.11 (or newer) in place of python3"
    )
