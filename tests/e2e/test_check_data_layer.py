"""``tarsify check`` on the data layer's settings: a pooler's URL not declared as one, a
pooled URL without a direct one, and a Redis that does not answer."""

from __future__ import annotations

import subprocess
from pathlib import Path

from aiohttp.test_utils import unused_port

from entrypoints.cli.check import looks_pooled

from .test_rate_limits import redis_server  # noqa: F401  (a fixture)
from .test_secure_start import tarsify


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("PROBLEM")]


def test_which_urls_look_pooled() -> None:
    assert looks_pooled("postgresql://u@db.internal:6432/tarsify")
    assert looks_pooled("postgresql+asyncpg://u@aws-0-eu.pooler.supabase.com:6543/postgres")
    assert looks_pooled("postgresql://u@pgbouncer.internal:7000/tarsify")
    assert not looks_pooled("postgresql://u@pgbouncer.internal:5432/tarsify")  # session mode
    assert not looks_pooled("postgresql://u@db.internal/tarsify")
    assert not looks_pooled("sqlite+aiosqlite:///./x6432.db")


def test_check_reports_an_undeclared_pooler_and_a_missing_direct_url(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:6432/nowhere?port={unused_port()}"
    undeclared = tarsify(tmp_path, "check", DATABASE_URL=url)
    assert any("set DATABASE_POOLER=transaction" in p for p in problems(undeclared))
    pooled = tarsify(tmp_path, "check", DATABASE_URL=url, DATABASE_POOLER="transaction")
    found = problems(pooled)
    assert not any("set DATABASE_POOLER" in p for p in found)
    assert any("without DATABASE_DIRECT_URL" in p for p in found), found
    direct = tarsify(
        tmp_path,
        "check",
        DATABASE_URL=url,
        DATABASE_POOLER="transaction",
        DATABASE_DIRECT_URL="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
    )
    assert "ok       DATABASE_POOLER=transaction; LISTEN over DATABASE_DIRECT_URL" in direct.stdout


def test_check_reports_an_unreachable_redis(
    tmp_path: Path,
    redis_server: tuple[subprocess.Popen[bytes], int],  # noqa: F811
) -> None:
    _, port = redis_server
    live = tarsify(tmp_path, "check", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    assert "ok       REDIS_URL answers" in live.stdout, live.stdout
    dead = tarsify(tmp_path, "check", REDIS_URL=f"redis://127.0.0.1:{unused_port()}/0")
    assert any("REDIS_URL does not answer" in p for p in problems(dead)), dead.stdout
    unset = tarsify(tmp_path, "check")
    assert "ok       REDIS_URL unset" in unset.stdout
