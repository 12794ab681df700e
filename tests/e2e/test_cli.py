"""The ``tarsify`` command, run as a newcomer would: in a subprocess, configured by env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from adapters.sql.migrate import alembic_config
from entrypoints.cli import main

SECRET = "cli-test-secret-that-is-long-enough-for-hs256"


def tarsify(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "TARSIFY_JWT_SECRET": SECRET,
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=Path(__file__).parents[2],
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [[], ["serve"], ["worker"], ["check"], ["migrate"], ["seed"], ["token"], ["ledger", "check"]],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: tarsify" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["bogus"], ["token", "--audience", "admins", "--uid", "u", "--email", "e"]]
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_token_is_a_valid_jwt_for_the_audience(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TARSIFY_JWT_SECRET", SECRET)
    assert main(["token", "--audience", "developers", "--uid", "dev-1", "--email", "d@x.io"]) == 0
    claims = jwt.decode(
        capsys.readouterr().out.strip(), SECRET, algorithms=["HS256"], audience="tarsify-developers"
    )
    assert (claims["sub"], claims["email"]) == ("dev-1", "d@x.io")
    assert claims["exp"] > claims["iat"]


def head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def test_firebase_without_its_extra_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("entrypoints.config.auth.firebase_installed", lambda: False)
    monkeypatch.setenv("AUTH_BACKEND", "firebase")
    monkeypatch.setenv("FIREBASE_CONSUMERS_PROJECT_ID", "c-project")
    monkeypatch.setenv("FIREBASE_DEVELOPERS_PROJECT_ID", "d-project")
    with pytest.raises(SystemExit) as exit_info:
        main(["migrate"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "pip install 'tarsify[firebase]'" in err
    assert "Traceback" not in err


def test_migrate_and_seed_are_idempotent(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", "RUNPOD_EP_SDXL": "sdxl-1"}
    migrated = tarsify("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert f"database at revision {head_revision()}" in migrated.stdout
    first = tarsify("seed", "--demo", env=env)
    assert first.returncode == 0, first.stderr
    assert "seed: 16 created, 1 updated" in first.stdout
    # fal's FLUX schnell beside the RunPod models (simulated here), with a demo model.
    assert "+ endpoint FLUX.1 schnell" in first.stdout
    assert "+ tars model quick-sketches (published)" in first.stdout
    assert "credits of demo-consumer (0 -> 1000)" in first.stdout
    assert "RUNPOD_EP_TTS is not set" in first.stdout
    assert "RUNPOD_EP_SDXL is not set" not in first.stdout
    assert "export CONSUMER_TOKEN=" in first.stdout
    second = tarsify("seed", "--demo", env=env)
    assert second.returncode == 0, second.stderr
    assert "seed: 0 created, 0 updated" in second.stdout
    checked = tarsify("ledger", "check", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "grants 1000 = balances 1000 + held 0" in checked.stdout


def test_unreachable_database_is_a_clear_error() -> None:
    env = {"DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"}
    for command in ("migrate", "seed"):
        result = tarsify(command, env=env)
        assert result.returncode == 3, (command, result.stdout, result.stderr)
        assert "Connect call failed" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout


def test_invalid_configuration_is_reported() -> None:
    result = tarsify("seed", env={"GPU_PROVIDER": "runpod"})
    assert result.returncode != 0
    assert "RUNPOD_API_KEY is required" in result.stderr
