"""Secure by default: the public development secret never serves beyond loopback, and
``tarsify check`` reports every production problem of a configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.sql.migrate import head
from entrypoints.config import Settings
from entrypoints.security import is_loopback, serve_refusal, worker_refusal

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "a-production-secret-of-more-than-32-bytes"
UNREACHABLE_DB = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"


def tarsify(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``tarsify`` in ``cwd`` with exactly ``env`` (nothing inherited but PATH)."""
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.5", False),
        ("example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["serve"], {"HOST": "0.0.0.0"}),
        (["serve", "--host", "10.1.2.3"], {}),
        (["serve", "--host", "::"], {"TARSIFY_JWT_SECRET": "too-short-secret"}),
    ],
)
def test_serving_off_loopback_with_the_dev_or_a_short_secret_exits_2(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    result = tarsify(tmp_path, *args, **env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TARSIFY_JWT_SECRET" in lines[0], result.stderr
    assert "tarsify serving" not in result.stdout
    assert not list(tmp_path.iterdir()), "nothing (not even the database) is created"


def test_demo_off_loopback_exits_2_even_with_a_real_secret(tmp_path: Path) -> None:
    result = tarsify(
        tmp_path, "serve", "--demo", "--host", "0.0.0.0", TARSIFY_JWT_SECRET=GOOD_SECRET
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--demo serves only on a loopback address" in result.stderr
    assert "TOKEN" not in result.stdout


def test_demo_sign_in_is_refused_off_loopback_whatever_the_secret() -> None:
    def refusal(host: str, demo_sign_in: bool) -> str | None:
        settings = Settings.from_variables(
            host=host, demo_sign_in=demo_sign_in, tarsify_jwt_secret=GOOD_SECRET
        )
        return serve_refusal(settings, demo=False)

    assert refusal("0.0.0.0", demo_sign_in=False) is None
    assert "loopback" in (refusal("0.0.0.0", demo_sign_in=True) or "")
    assert refusal("127.0.0.1", demo_sign_in=True) is None


def test_worker_on_a_database_server_refuses_the_dev_secret(tmp_path: Path) -> None:
    result = tarsify(tmp_path, "worker", DATABASE_URL=UNREACHABLE_DB)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "TARSIFY_JWT_SECRET" in result.stderr and "worker" in result.stderr


def test_worker_refuses_the_dev_secret_only_on_a_database_server() -> None:
    def refusal(**values: Any) -> str | None:
        return worker_refusal(Settings.from_variables(**values))

    assert refusal(database_url=UNREACHABLE_DB) is not None
    assert refusal(database_url=UNREACHABLE_DB, tarsify_jwt_secret=GOOD_SECRET) is None
    assert refusal(database_url="sqlite+aiosqlite:///./local.db") is None
    assert refusal(database_url="memory://") is None
    firebase = {"auth_backend": "firebase", "firebase_consumers_project_id": "c"}
    assert (
        refusal(database_url=UNREACHABLE_DB, firebase_developers_project_id="d", **firebase) is None
    )


def test_check_reports_every_problem_of_a_bad_configuration(tmp_path: Path) -> None:
    result = tarsify(
        tmp_path,
        "check",
        DATABASE_URL=UNREACHABLE_DB,
        PUBLIC_BASE_URL="http://tarsify.example",
        WEBHOOK_SECRET=GOOD_SECRET,
        HOST="0.0.0.0",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if line.startswith("PROBLEM")]
    expected = [
        "TARSIFY_JWT_SECRET is not set",
        "ADMIN_UIDS is empty",
        "GPU_PROVIDER=simulator",
        "PUBLIC_BASE_URL must be https",
        "the database is unreachable",
    ]
    assert len(problems) == len(expected), result.stdout
    for text, line in zip(expected, problems, strict=True):
        assert text in line, (text, line)
    assert "ok       the file store directory data/files will be created" in result.stdout
    assert not (tmp_path / "data").exists(), "check must not create the file store"
    assert "5 problem(s)" in result.stdout


def test_check_reports_file_store_problems(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("x")
    bad = tarsify(tmp_path, "check", BLOB_FILESYSTEM_ROOT="./not-a-dir/files")
    assert "PROBLEM  the file store directory not-a-dir/files cannot be written" in bad.stdout
    assert "PROBLEM  file links would point at http://HOST:PORT" in bad.stdout
    memory = tarsify(tmp_path, "check", BLOB_STORE="memory")
    assert "PROBLEM  BLOB_STORE=memory keeps no file" in memory.stdout


def test_check_reports_settings_no_command_accepts(tmp_path: Path) -> None:
    result = tarsify(tmp_path, "check", GPU_PROVIDER="runpod", WEBHOOK_SECRET="short")
    assert result.returncode == 1
    assert "PROBLEM  RUNPOD_API_KEY is required when GPU_PROVIDER=runpod" in result.stdout
    assert "PROBLEM  WEBHOOK_SECRET must be at least 32 bytes" in result.stdout


def test_check_reports_webhooks_allowed_into_private_networks(tmp_path: Path) -> None:
    result = tarsify(tmp_path, "check", WEBHOOK_ALLOW_PRIVATE="true")
    assert result.returncode == 1
    assert "PROBLEM  WEBHOOK_ALLOW_PRIVATE=true" in result.stdout
    assert "ok       consumers' webhooks may only reach public addresses" not in result.stdout
    default = tarsify(tmp_path, "check")
    assert "ok       consumers' webhooks may only reach public addresses" in default.stdout
    assert "ok       output files are only downloaded from public addresses" in default.stdout


def test_check_reports_output_downloads_allowed_into_private_networks(tmp_path: Path) -> None:
    result = tarsify(tmp_path, "check", OUTPUT_DOWNLOAD_ALLOW_PRIVATE="true")
    assert result.returncode == 1
    assert "PROBLEM  OUTPUT_DOWNLOAD_ALLOW_PRIVATE=true" in result.stdout
    assert "output files are only downloaded from public addresses" not in result.stdout


def test_check_finds_an_unmigrated_database(tmp_path: Path) -> None:
    (tmp_path / "empty.db").write_bytes(b"")
    missing = tarsify(tmp_path, "check", DATABASE_URL="sqlite+aiosqlite:///./absent.db")
    assert "the SQLite file ./absent.db does not exist" in missing.stdout
    assert not (tmp_path / "absent.db").exists(), "check must not create the database"
    empty = tarsify(tmp_path, "check", DATABASE_URL="sqlite+aiosqlite:///./empty.db")
    assert f"the database is at revision None, not {head()}" in empty.stdout


def test_check_passes_a_production_configuration(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "sqlite+aiosqlite:///./prod.db",
        "GPU_PROVIDER": "runpod",
        "RUNPOD_API_KEY": "rp-key",
        "TARSIFY_JWT_SECRET": GOOD_SECRET,
        "ADMIN_UIDS": "alice",
        "PUBLIC_BASE_URL": "https://tarsify.example",
    }
    assert tarsify(tmp_path, "migrate", **env).returncode == 0
    result = tarsify(tmp_path, "check", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PROBLEM" not in result.stdout
    assert "ready for production" in result.stdout
