"""The composition root picks adapters from the settings and closes what it opens."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

import pytest
import structlog
from pydantic import ValidationError

from adapters.auth.api_keys import CompositeVerifier
from adapters.auth.firebase import FirebaseVerifier
from adapters.auth.jwt import JwtVerifier
from adapters.memory.uow import MemoryUnitOfWork
from adapters.providers.routing import RoutingGpuProvider
from adapters.providers.runpod.client import RunPodClient
from adapters.providers.runpod.provider import RunPodGpuProvider
from adapters.providers.simulator.provider import SimulatedGpuProvider
from adapters.sql.uow import SqlHealthCheck, SqlUnitOfWork
from entrypoints.config import DEV_JWT_SECRET, Settings, configure_logging
from entrypoints.container import build_container, resolve
from entrypoints.container.auth import firebase_verifier
from tarsify.domain.catalog import Provider

from .conftest import make_settings


async def test_memory_store_and_simulator_by_default_in_tests() -> None:
    container = build_container(make_settings())
    await resolve(container.init_resources)
    try:
        assert isinstance((await resolve(container.uow_factory))(), MemoryUnitOfWork)
        routing = await resolve(container.gpu_provider)
        assert isinstance(routing, RoutingGpuProvider)
        # The simulator answers for every provider.
        assert routing.providers == frozenset(Provider)
        assert all(isinstance(a, SimulatedGpuProvider) for a in routing.adapters.values())
        assert isinstance(await resolve(container.identity_verifier), CompositeVerifier)
        assert isinstance(await resolve(container.token_verifier), JwtVerifier)
        assert (await resolve(container.engine_settings)).poll_min_interval_s == 0.0
        assert (await resolve(container.admin_policy)).is_admin("other-admin")
    finally:
        await resolve(container.shutdown_resources)


async def test_sql_runpod_and_firebase_when_configured() -> None:
    settings = make_settings(
        database_url="sqlite+aiosqlite:///:memory:",
        gpu_provider="runpod",
        runpod_api_key="rp-key",
        runpod_base_url="http://127.0.0.1:9/v2",
        auth_backend="firebase",
        firebase_consumers_project_id="cons-project",
        firebase_developers_project_id="dev-project",
    )
    container = build_container(settings)
    await resolve(container.init_resources)
    try:
        assert isinstance((await resolve(container.uow_factory))(), SqlUnitOfWork)
        assert isinstance(await resolve(container.health_check), SqlHealthCheck)
        await (await resolve(container.health_check)).ping()
        routing = await resolve(container.gpu_provider)
        assert isinstance(routing, RoutingGpuProvider)
        # RunPod alone: fal has no FAL_KEY here.
        assert isinstance(routing.adapters[Provider.RUNPOD], RunPodGpuProvider)
        assert routing.providers == {Provider.RUNPOD}
        assert await resolve(container.fal_client) is None
        assert isinstance(await resolve(container.runpod_client), RunPodClient)
        assert isinstance(await resolve(container.token_verifier), FirebaseVerifier)
    finally:
        await resolve(container.shutdown_resources)


@pytest.mark.parametrize(
    "overrides",
    [
        {"gpu_provider": "runpod"},
        {"gpu_provider": "runpod", "runpod_api_key": " "},
        {"auth_backend": "firebase", "firebase_consumers_project_id": "c"},
        {
            "auth_backend": "firebase",
            "firebase_consumers_project_id": "p",
            "firebase_developers_project_id": "p",
        },
        {"tarsify_jwt_secret": "short"},
        {"gpu_provider": "gpu-cloud"},
        {"log_format": "xml"},
    ],
)
def test_invalid_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        make_settings(**overrides)


def test_firebase_without_its_extra_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    firebase = {
        "auth_backend": "firebase",
        "firebase_consumers_project_id": "c-project",
        "firebase_developers_project_id": "d-project",
    }
    settings = make_settings(**firebase)
    monkeypatch.setattr("entrypoints.config.auth.firebase_installed", lambda: False)
    with pytest.raises(ValidationError, match=re.escape("pip install 'tarsify[firebase]'")):
        make_settings(**firebase)
    # Settings copied past validation still fail clearly when the verifier is built.
    monkeypatch.setitem(sys.modules, "firebase_admin", None)
    monkeypatch.delitem(sys.modules, "adapters.auth.firebase", raising=False)
    with pytest.raises(RuntimeError, match=re.escape("tarsify[firebase]")):
        firebase_verifier(settings)


def test_the_command_line_and_the_app_never_import_firebase() -> None:
    code = (
        "import sys, entrypoints.cli.commands, entrypoints.process.serve, entrypoints.http.app;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('firebase_admin', 'google')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "memory://")
    monkeypatch.setenv("ADMIN_UIDS", "a, b,,c")
    monkeypatch.setenv("CORS_ORIGINS", "https://x.example")
    monkeypatch.setenv("RECONCILER_ENABLED", "false")
    monkeypatch.setenv("MAX_BODY_BYTES", "2048")
    monkeypatch.delenv("TARSIFY_JWT_SECRET", raising=False)
    settings = Settings.from_variables()
    assert settings.database.storage_backend == "memory"
    assert settings.auth.admin_uid_list == ["a", "b", "c"]
    assert settings.server.cors_origin_list == ["https://x.example"]
    assert settings.engine.reconciler_enabled is False and settings.server.max_body_bytes == 2048
    assert settings.auth.uses_dev_jwt_secret
    assert settings.auth.jwt_secret.get_secret_value() == DEV_JWT_SECRET
    assert "dev-only" not in repr(settings)


def test_logging_renders_json_lines_with_context(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("INFO", "json")
        with structlog.contextvars.bound_contextvars(request_id="r-1"):
            structlog.get_logger("tarsify.test").info("native", answer=42)
            logging.getLogger("tarsify.core").warning("stdlib", extra={"execution_id": "e-1"})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        structlog.reset_defaults()
    native, stdlib = lines
    assert native["event"] == "native" and native["answer"] == 42
    assert native["request_id"] == "r-1" and native["level"] == "info"
    assert stdlib["event"] == "stdlib" and stdlib["execution_id"] == "e-1"
    assert stdlib["logger"] == "tarsify.core" and "timestamp" in stdlib
