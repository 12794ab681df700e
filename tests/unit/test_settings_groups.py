"""Settings are grouped by concern, but read from the same flat environment variables:
each group's fields name their variables, and every source (the constructor, the
environment, ``.env``) reaches the right group with the right precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from entrypoints.config import (
    VARIABLES,
    DatabaseConfig,
    ServerConfig,
    Settings,
    config_problems,
)
from entrypoints.config.settings import GROUPS


def test_each_variable_sets_one_field_of_one_small_group() -> None:
    assert all(len(group.model_fields) <= 25 for group in GROUPS.values())
    aliases = [
        info.validation_alias for group in GROUPS.values() for info in group.model_fields.values()
    ]
    assert len(aliases) == len(set(aliases)) == len(VARIABLES)
    assert all(isinstance(a, str) and a.isupper() for a in aliases)
    assert VARIABLES["DATABASE_URL"] == ("database", "url")
    assert VARIABLES["RUNPOD_API_KEY"] == ("gpu", "runpod_api_key")
    assert VARIABLES["ANON_RATE_LIMIT_PER_MINUTE"] == ("rate_limits", "anon_per_minute")


def test_the_environment_and_env_file_reach_the_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PORT", "HOST", "LOG_LEVEL", "RUNPOD_API_KEY", "GPU_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=7001\nHOST=10.0.0.1\nLOG_LEVEL=ERROR\nSERVER=not-a-group\n")
    monkeypatch.setenv("HOST", "127.0.0.2")
    monkeypatch.setenv("runpod_api_key", "rp-key")
    monkeypatch.setenv("GPU_PROVIDER", "runpod")
    found = Settings.from_variables(env_file=str(env_file), log_level="DEBUG")
    # The constructor over the environment over .env, variable by variable.
    assert (found.server.port, found.server.host, found.logging.level) == (
        7001,
        "127.0.0.2",
        "DEBUG",
    )
    assert found.gpu.provider == "runpod"
    assert found.gpu.runpod_api_key == SecretStr("rp-key")
    monkeypatch.chdir(tmp_path)
    assert Settings().server.port == 7001  # .env of the working directory by default
    assert Settings.from_variables().server.port == 8000  # tests read no .env


def test_groups_may_be_given_whole_or_by_field_names() -> None:
    given = Settings(database=DatabaseConfig(url="memory://"), server={"port": 9001, "HOST": "::1"})
    assert (given.database.url, given.database.pool_size) == ("memory://", 20)
    assert (given.server.port, given.server.host) == (9001, "::1")
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL is set both by its name and in a server"):
        Settings(server=ServerConfig(port=9002), PUBLIC_BASE_URL="https://x")


def test_unknown_variables_are_refused_when_building_from_variables() -> None:
    with pytest.raises(ValueError, match="not settings: DATABSE_URL"):
        Settings.from_variables(DATABSE_URL="memory://")


def test_problems_name_the_variable_whatever_the_group() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.from_variables(port="eighty", db_pool_size=0)
    problems = config_problems(caught.value)
    assert [p.split(":")[0] for p in problems] == ["DB_POOL_SIZE", "PORT"]
    with pytest.raises(ValidationError) as caught:
        Settings(server={"port": "eighty"})
    assert config_problems(caught.value)[0].startswith("PORT: ")
    with pytest.raises(ValidationError) as caught:
        Settings.from_variables(log_level="LOUD", gpu_provider="runpod")
    assert config_problems(caught.value) == [
        "RUNPOD_API_KEY is required when GPU_PROVIDER=runpod",
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'",
    ]


def test_a_copy_changes_the_named_variables_only() -> None:
    settings = Settings.from_variables(admin_uids="a")
    copy = settings.with_variables(HOST="0.0.0.0", port=9003, RECONCILER_ENABLED=False)
    assert (copy.server.host, copy.server.port, copy.engine.reconciler_enabled) == (
        "0.0.0.0",
        9003,
        False,
    )
    assert copy.auth.admin_uids == "a" and copy.database == settings.database
    assert (settings.server.host, settings.engine.reconciler_enabled) == ("127.0.0.1", True)


def test_secrets_are_never_shown() -> None:
    settings = Settings.from_variables(
        tarsify_jwt_secret="j" * 40,
        runpod_api_key="rp-secret-key",
        blob_s3_secret_access_key="s3-secret",
        webhook_secret="w" * 40,
        api_key_pepper="p" * 40,
    )
    shown = repr(settings) + str(settings)
    for secret in ("j" * 40, "rp-secret-key", "s3-secret", "w" * 40, "p" * 40):
        assert secret not in shown
