"""Process settings, read from the environment (and ``.env`` when present).

Each concern is a group (``settings.database.url``, ``settings.gpu.provider``, ...); each
field of a group names its environment variable in ``validation_alias`` (``DATABASE_URL``).
The variables are flat, as operators set them: the sources below read them by those names
and hand each group its own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from entrypoints.config.auth import AuthConfig
from entrypoints.config.common import ConfigurationError, Group
from entrypoints.config.database import DatabaseConfig
from entrypoints.config.engine import EngineConfig, EventsConfig
from entrypoints.config.files import FileConfig
from entrypoints.config.gpu import GpuConfig
from entrypoints.config.limits import RateLimitConfig
from entrypoints.config.logs import LoggingConfig
from entrypoints.config.server import ServerConfig
from entrypoints.config.webhooks import WebhookConfig

log = logging.getLogger("tarsify.config")


class Settings(BaseSettings):
    """Every tunable of the service, one group per concern.

    ``Settings()`` reads the environment and ``.env``; ``Settings.from_variables(...)``
    sets variables over the environment (tests, benchmarks); ``with_variables`` copies.
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    gpu: GpuConfig = Field(default_factory=GpuConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    files: FileConfig = Field(default_factory=FileConfig)
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest precedence first: values given to the constructor, the environment, .env.
        assert isinstance(init_settings, InitSettingsSource)
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, EnvSettingsSource)  # DotEnvSettingsSource is one
        return (
            GroupedSource(settings_cls, group_values(init_settings.init_kwargs, given=True)),
            GroupedSource(settings_cls, group_values(env_settings.env_vars)),
            GroupedSource(settings_cls, group_values(dotenv_settings.env_vars)),
        )

    @classmethod
    def from_variables(cls, *, env_file: str | None = None, **variables: object) -> Settings:
        """Settings with ``variables`` (environment variable names, in any case) set over
        the process environment; ``.env`` is read only when ``env_file`` names it."""
        unknown = sorted(name for name in variables if name.upper() not in VARIABLES)
        if unknown:
            raise ValueError(f"not settings: {', '.join(unknown)}")
        values: dict[str, Any] = dict(variables)
        return cls(_env_file=env_file, **values)  # type: ignore[call-arg]

    def with_variables(self, **variables: object) -> Settings:
        """A copy with these variables' settings (names in any case) replaced. Like
        ``model_copy(update=...)`` the values are not validated again: the caller gives
        them their types (security.py checks what matters again)."""
        changes: dict[str, dict[str, object]] = {}
        for name, value in variables.items():
            group, field = VARIABLES[name.upper()]
            changes.setdefault(group, {})[field] = value
        return self.model_copy(
            update={
                group: getattr(self, group).model_copy(update=values)
                for group, values in changes.items()
            }
        )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        problems = self._problems()
        if problems:
            raise ConfigurationError(problems)
        return self

    def _problems(self) -> list[str]:
        """Every combination of settings no command can run with."""
        problems = self.gpu.problems() + self.auth.problems()
        if (
            self.server.public_base_url
            and self.webhooks.secret is None
            and self.auth.uses_dev_jwt_secret
        ):
            problems.append(
                "PUBLIC_BASE_URL enables webhooks: set WEBHOOK_SECRET (or TARSIFY_JWT_SECRET)"
            )
        for group in (
            self.server,
            self.files,
            self.webhooks,
            self.rate_limits,
            self.logging,
            self.database,
        ):
            problems += group.problems()
        return problems

    @property
    def webhook_signing_secret(self) -> str:
        """WEBHOOK_SECRET, or (when unset) the JWT secret, from which a distinct key is
        derived; rotating it invalidates the webhooks of unfinished executions."""
        chosen = self.webhooks.secret or self.auth.jwt_secret
        return chosen.get_secret_value()

    @property
    def file_url_signing_secret(self) -> str:
        """FILE_URL_SECRET, or (when unset) the JWT secret, from which a distinct key is
        derived; rotating it invalidates the file URLs already handed out."""
        chosen = self.files.url_secret or self.auth.jwt_secret
        return chosen.get_secret_value()

    def warn_if_insecure(self) -> None:
        """Log a warning for settings only acceptable on a developer machine."""
        dev_secret = self.auth.uses_dev_jwt_secret
        if self.auth.backend == "jwt" and dev_secret:
            log.warning(
                "config.dev_jwt_secret",
                extra={
                    "hint": "set TARSIFY_JWT_SECRET; the built-in one is public (loopback only)"
                },
            )
        elif self.auth.api_key_pepper is None and dev_secret:
            # With Firebase the JWT secret is unused, but API key hashes still derive from it.
            log.warning(
                "config.dev_api_key_pepper",
                extra={"hint": "set API_KEY_PEPPER; keys are hashed under a public default"},
            )
        if self.files.store != "s3" and self.files.url_secret is None and dev_secret:
            log.warning(
                "config.dev_file_url_secret",
                extra={
                    "hint": "set FILE_URL_SECRET or TARSIFY_JWT_SECRET: file links are forgeable"
                },
            )


def _group_classes() -> dict[str, type[Group]]:
    groups: dict[str, type[Group]] = {}
    for name, info in Settings.model_fields.items():
        assert isinstance(info.annotation, type) and issubclass(info.annotation, Group)
        groups[name] = info.annotation
    return groups


# The root's field of each group, and its class.
GROUPS = _group_classes()
# Each environment variable (in capitals) -> the group and the field it sets.
VARIABLES: dict[str, tuple[str, str]] = {
    str(info.validation_alias): (group, field)
    for group, model in GROUPS.items()
    for field, info in model.model_fields.items()
}


def variable_of(group: str, field: str) -> str:
    """The environment variable of a group's field."""
    return str(GROUPS[group].model_fields[field].validation_alias)


def group_values(values: Mapping[str, Any], *, given: bool = False) -> dict[str, Any]:
    """Flat ``NAME: value`` pairs as the groups' inputs, keyed by variable names:
    ``{"database": {"DATABASE_URL": ...}}``. From the environment (``given`` False) only
    the service's variables are taken. Values given to the constructor may also be whole
    groups (a dict, by field or variable names, or a group object); anything else is
    passed on, and ignored."""
    grouped: dict[str, Any] = {}
    for key, value in values.items():
        if given and key in GROUPS and isinstance(value, Mapping):
            by_name = GROUPS[key].model_fields
            grouped.setdefault(key, {}).update(
                (variable_of(key, k) if k in by_name else k.upper(), v) for k, v in value.items()
            )
        elif given and (key in GROUPS or key.upper() not in VARIABLES):
            grouped[key] = value
    for key, value in values.items():
        # A variable set but empty in .env (``NAME`` alone) reads as None: not set.
        if key.upper() in VARIABLES and (given or value is not None):
            group, _ = VARIABLES[key.upper()]
            into = grouped.setdefault(group, {})
            if not isinstance(into, dict):
                raise ValueError(f"{key.upper()} is set both by its name and in a {group} object")
            into[key.upper()] = value
    return grouped


class GroupedSource(PydanticBaseSettingsSource):
    """A source of values already arranged by ``group_values``."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False  # unused: __call__ suffices

    def __call__(self) -> dict[str, Any]:
        return self._values


def config_problems(exc: ValidationError) -> list[str]:
    """One line per problem of a settings ``ValidationError``, each naming its variable."""
    problems: list[str] = []
    for error in exc.errors():
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ConfigurationError):
            problems += cause.problems
            continue
        loc = [str(part) for part in error["loc"]]
        if len(loc) > 1 and loc[0] in GROUPS:
            # ("database", "DATABASE_URL") -> DATABASE_URL; a field given by its name
            # (a group built in code) is named by its variable too.
            fields = GROUPS[loc[0]].model_fields
            loc = [variable_of(loc[0], loc[1]) if loc[1] in fields else loc[1], *loc[2:]]
        field = ".".join(loc).upper() or "settings"
        problems.append(f"{field}: {error['msg']}")
    return problems
