"""``tarsify check`` says when GPU workers could not read uploaded input files."""

from __future__ import annotations

from pathlib import Path

from entrypoints.cli.check import check_blob_store
from entrypoints.config import Settings

WORKERS = "GPU workers read uploaded input files from this service"


async def lines(tmp_path: Path, **values: str) -> list[str]:
    settings = Settings.from_variables(
        BLOB_STORE="filesystem", BLOB_FILESYSTEM_ROOT=str(tmp_path), **values
    )
    return [finding.line() for finding in await check_blob_store(settings)]


async def test_a_provider_without_public_base_url_is_a_problem(tmp_path: Path) -> None:
    found = await lines(tmp_path, GPU_PROVIDER="runpod", RUNPOD_API_KEY="rpa_x" * 4)
    assert any(WORKERS in line and line.startswith("PROBLEM") for line in found), found


async def test_the_simulator_or_a_public_base_url_is_fine(tmp_path: Path) -> None:
    assert not any(WORKERS in line for line in await lines(tmp_path, GPU_PROVIDER="simulator"))
    found = await lines(
        tmp_path,
        GPU_PROVIDER="runpod",
        RUNPOD_API_KEY="rpa_x" * 4,
        PUBLIC_BASE_URL="https://api.example.com",
        WEBHOOK_SECRET="a-webhook-secret-that-is-long-enough-0123456789",
    )
    assert not any(WORKERS in line for line in found)
