"""Process settings, read from the environment (and ``.env`` when present)."""

from __future__ import annotations

import importlib.util
import logging
import sys
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tarsify.domain.api_keys import derive_pepper
from tarsify.domain.inputs import DEFAULT_MAX_INPUT_BYTES
from tarsify.domain.webhooks import DEFAULT_RETRY_DELAYS_S

log = logging.getLogger("tarsify.config")

DEV_JWT_SECRET = "dev-only-insecure-tarsify-jwt-secret-change-me"
MEMORY_URL_PREFIX = "memory://"
MIB = 1024 * 1024
# HS256 keys shorter than the hash output (32 bytes) are brute-forceable (RFC 7518 3.2).
MIN_SECRET_BYTES = 32
MIN_PEPPER_CHARS = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# What DATABASE_URL may start with (before ``://``), memory:// aside; the plain names get
# the async driver (adapters/sql/engine.py).
DATABASE_SCHEMES = frozenset(
    {"sqlite+aiosqlite", "sqlite", "postgresql+asyncpg", "postgresql", "postgres"}
)
FIREBASE_EXTRA_MISSING = (
    "AUTH_BACKEND=firebase needs the 'firebase' extra: pip install 'tarsify[firebase]' "
    "(or -e '.[firebase]' from a checkout)"
)


def firebase_installed() -> bool:
    """True when firebase-admin (the optional ``firebase`` extra) can be imported."""
    return importlib.util.find_spec("firebase_admin") is not None


def _split_csv(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _delays(raw: str) -> tuple[float, ...] | None:
    """Comma-separated positive seconds, or None when that is not what ``raw`` holds."""
    try:
        delays = tuple(float(part) for part in _split_csv(raw))
    except ValueError:
        return None
    if not 1 <= len(delays) <= 50 or not all(0 < d <= 7 * 24 * 3600 for d in delays):
        return None
    return delays


def _database_url_problems(url: str) -> list[str]:
    """Why DATABASE_URL names no database this service can use (none: it can)."""
    if url.startswith(MEMORY_URL_PREFIX):
        return []
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in DATABASE_SCHEMES:
        return []
    # Only the scheme is repeated: the rest of a URL may hold a password.
    given = f"{scheme}://" if scheme else "a value that is not a URL"
    return [
        "DATABASE_URL must start with sqlite+aiosqlite://, postgresql+asyncpg:// "
        f"(postgresql:// and postgres:// mean it too) or memory://, not {given}"
    ]


def _is_origin(origin: str) -> bool:
    """``*``, or ``http(s)://host[:port]`` with nothing after it (a browser's Origin)."""
    if origin == "*":
        return True
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.path or parts.query or parts.fragment or parts.username)
        and " " not in origin
    )


def _short(secret: SecretStr) -> bool:
    return len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES


class ConfigurationError(ValueError):
    """Settings no command can run with; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    """Every tunable of the service; field names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = "sqlite+aiosqlite:///./tarsify.db"
    # "transaction": DATABASE_URL is a transaction pooler's (PgBouncer pool_mode=transaction).
    database_pooler: Literal["none", "transaction"] = "none"
    # A direct PostgreSQL URL (not through the pooler), for LISTEN: one connection per process.
    database_direct_url: str | None = None
    gpu_provider: Literal["simulator", "runpod"] = "simulator"
    runpod_api_key: SecretStr | None = None
    runpod_base_url: str = "https://api.runpod.ai/v2"
    auth_backend: Literal["jwt", "firebase"] = "jwt"
    tarsify_jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    firebase_consumers_project_id: str | None = None
    firebase_developers_project_id: str | None = None
    admin_uids: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    # auto: readable lines when standard error is a terminal, JSON lines otherwise.
    log_format: Literal["auto", "json", "console"] = "auto"
    cors_origins: str = ""
    max_body_bytes: int = Field(default=MIB, ge=1024)
    db_pool_size: int = Field(default=20, ge=1, le=1000)
    db_max_overflow: int = Field(default=0, ge=0, le=1000)
    status_poll_min_interval: float = Field(default=1.0, ge=0.0)
    reconciler_enabled: bool = True
    reconciler_interval: float = Field(default=2.0, gt=0.0)
    simulator_queue_seconds: float = Field(default=0.5, ge=0.0)
    simulator_run_seconds: float = Field(default=1.0, ge=0.0)
    public_base_url: str | None = None
    webhook_secret: SecretStr | None = None
    blob_store: Literal["filesystem", "s3", "memory"] = "filesystem"
    blob_filesystem_root: str = "./data/files"
    blob_s3_bucket: str | None = None
    blob_s3_endpoint_url: str | None = None
    blob_s3_region: str | None = None
    blob_s3_access_key_id: str | None = None
    blob_s3_secret_access_key: SecretStr | None = None
    file_url_secret: SecretStr | None = None
    # S3 presigned URLs cannot outlive 7 days.
    file_url_ttl: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    file_retention_days: int | None = Field(default=None, ge=1)
    output_download_max_bytes: int = Field(default=100 * MIB, ge=1024)
    output_download_timeout: float = Field(default=60.0, gt=0.0)
    # GPU workers choose the URLs in their outputs: internal addresses are refused unless
    # this is set (a provider or file server on the service's own network).
    output_download_allow_private: bool = False
    api_key_pepper: SecretStr | None = None
    # Set by `serve --demo`: mounts the one-click demo sign-in of the web pages.
    demo_sign_in: bool = False
    webhook_allow_private: bool = False
    webhook_timeout: float = Field(default=10.0, gt=0.0, le=60.0)
    webhook_retry_delays: str = ",".join(f"{d:g}" for d in DEFAULT_RETRY_DELAYS_S)
    webhook_delivery_enabled: bool = True
    webhook_delivery_interval: float = Field(default=1.0, gt=0.0)
    # Attempts in flight to one receiver's host at a time (the rest wait their turn).
    webhook_concurrency_per_host: int = Field(default=4, ge=1, le=64)
    events_heartbeat_seconds: float = Field(default=15.0, gt=0.0)
    events_poll_interval: float = Field(default=0.25, gt=0.0)
    platform_fee_percent: int = Field(default=20, ge=0, le=100)
    max_active_executions: int = Field(default=10, ge=1, le=1_000_000)
    # A run's inputs, merged with the model's configuration, as compact JSON: more is 413
    # ERR_4130 with nothing stored (large data belongs in file inputs).
    max_input_bytes: int = Field(default=DEFAULT_MAX_INPUT_BYTES, ge=1024, le=16 * MIB)
    # Checking a run's inputs against its schema, on a thread: past this it is 422.
    validation_budget_seconds: float = Field(default=2.0, gt=0.0, le=60.0)
    validation_threads: int = Field(default=2, ge=1, le=64)
    # How long a process keeps a model's run target (model, base model, endpoint and
    # its inputs' validators): a change made in another process reaches runs here
    # within this time; unpublishing and deactivating take effect at once. 0: never kept.
    run_target_cache_seconds: float = Field(default=1.0, ge=0.0, le=60.0)
    # How long an Idempotency-Key is remembered (then the same key starts a new run).
    idempotency_key_retention_hours: float = Field(default=24.0, gt=0.0, le=24 * 365)
    # Open event streams per consumer and server process: each quiet stream reads its
    # execution every second, so streams are not free.
    max_streams_per_consumer: int = Field(default=10, ge=1, le=10_000)
    # Runs per consumer per minute (0: no limit); shared through REDIS_URL when set.
    run_rate_limit_per_minute: int = Field(default=120, ge=0, le=1_000_000)
    # Requests per client address per minute to the open routes (0: no limit).
    anon_rate_limit_per_minute: int = Field(default=600, ge=0, le=1_000_000)
    redis_url: str | None = None
    # Peers whose X-Forwarded-For names the client (addresses or networks, comma-separated).
    trusted_proxies: str = ""

    @model_validator(mode="after")
    def _check_backends(self) -> Settings:
        problems = self._problems()
        if problems:
            raise ConfigurationError(problems)
        return self

    def _problems(self) -> list[str]:
        """Every combination of settings no command can run with."""
        problems: list[str] = []
        if self.gpu_provider == "runpod" and not self._secret_set(self.runpod_api_key):
            problems.append("RUNPOD_API_KEY is required when GPU_PROVIDER=runpod")
        if self.auth_backend == "firebase" and not (
            self.firebase_consumers_project_id and self.firebase_developers_project_id
        ):
            problems.append(
                "FIREBASE_CONSUMERS_PROJECT_ID and FIREBASE_DEVELOPERS_PROJECT_ID are required "
                "when AUTH_BACKEND=firebase"
            )
        elif (
            self.auth_backend == "firebase"
            and self.firebase_consumers_project_id == self.firebase_developers_project_id
        ):
            problems.append("the consumers' and developers' Firebase projects must differ")
        if self.auth_backend == "firebase" and not firebase_installed():
            problems.append(FIREBASE_EXTRA_MISSING)
        if self.api_key_pepper is not None and (
            len(self.api_key_pepper.get_secret_value()) < MIN_PEPPER_CHARS
        ):
            problems.append(f"API_KEY_PEPPER must be at least {MIN_PEPPER_CHARS} characters")
        if self.public_base_url and self.webhook_secret is None and self.uses_dev_jwt_secret:
            problems.append(
                "PUBLIC_BASE_URL enables webhooks: set WEBHOOK_SECRET (or TARSIFY_JWT_SECRET)"
            )
        if self.public_base_url and not self.public_base_url.startswith(("http://", "https://")):
            problems.append("PUBLIC_BASE_URL must be an http(s) URL")
        if self.blob_store == "s3" and not (self.blob_s3_bucket or "").strip():
            problems.append("BLOB_S3_BUCKET is required when BLOB_STORE=s3")
        # A secret someone chose but made short is a mistake on any machine; only the
        # built-in development secret is tolerated, and only on loopback (security.py).
        if self.auth_backend == "jwt" and _short(self.tarsify_jwt_secret):
            problems.append(f"TARSIFY_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        if _delays(self.webhook_retry_delays) is None:
            problems.append(
                "WEBHOOK_RETRY_DELAYS must be comma-separated positive seconds (1 to 50 of them)"
            )
        if self.webhook_secret is not None and _short(self.webhook_secret):
            problems.append(f"WEBHOOK_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        problems += _limit_problems(self.redis_url, self.trusted_proxies)
        if self.log_level.upper() not in LOG_LEVELS:
            levels = ", ".join(LOG_LEVELS)
            problems.append(f"LOG_LEVEL must be one of {levels}, not {self.log_level!r}")
        problems += _database_url_problems(self.database_url)
        problems += [
            f"CORS_ORIGINS must be * or comma-separated origins such as "
            f"https://app.example.com, not {origin!r}"
            for origin in self.cors_origin_list
            if not _is_origin(origin)
        ]
        return problems

    @property
    def webhook_signing_secret(self) -> str:
        """WEBHOOK_SECRET, or (when unset) the JWT secret, from which a distinct key is
        derived; rotating it invalidates the webhooks of unfinished executions."""
        chosen = self.webhook_secret or self.tarsify_jwt_secret
        return chosen.get_secret_value()

    @property
    def file_url_signing_secret(self) -> str:
        """FILE_URL_SECRET, or (when unset) the JWT secret, from which a distinct key is
        derived; rotating it invalidates the file URLs already handed out."""
        chosen = self.file_url_secret or self.tarsify_jwt_secret
        return chosen.get_secret_value()

    @property
    def public_url(self) -> str:
        """Where clients reach this service: PUBLIC_BASE_URL, else ``http://HOST:PORT``."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def api_key_pepper_bytes(self) -> bytes:
        """The key of the API key hashes: API_KEY_PEPPER, or (when unset) a value derived
        from TARSIFY_JWT_SECRET under its own label. Changing it invalidates every key."""
        if self.api_key_pepper is not None:
            return self.api_key_pepper.get_secret_value().encode()
        return derive_pepper(self.tarsify_jwt_secret.get_secret_value())

    @staticmethod
    def _secret_set(value: SecretStr | None) -> bool:
        return value is not None and bool(value.get_secret_value().strip())

    @property
    def storage_backend(self) -> Literal["memory", "sql"]:
        """``memory`` for a ``memory://`` DATABASE_URL (tests, demos), else ``sql``."""
        return "memory" if self.database_url.startswith(MEMORY_URL_PREFIX) else "sql"

    @property
    def webhook_retry_delay_list(self) -> tuple[float, ...]:
        """WEBHOOK_RETRY_DELAYS as seconds: the wait after each failed attempt."""
        return _delays(self.webhook_retry_delays) or DEFAULT_RETRY_DELAYS_S

    @property
    def database_pooled(self) -> bool:
        """True when DATABASE_URL goes through a transaction pooler."""
        return self.database_pooler == "transaction"

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """TRUSTED_PROXIES as networks (a bare address is a network of one)."""
        return tuple(ip_network(item, strict=False) for item in _split_csv(self.trusted_proxies))

    @property
    def admin_uid_list(self) -> list[str]:
        """ADMIN_UIDS as a list."""
        return _split_csv(self.admin_uids)

    @property
    def cors_origin_list(self) -> list[str]:
        """CORS_ORIGINS as a list (empty: CORS disabled)."""
        return _split_csv(self.cors_origins)

    @property
    def uses_dev_jwt_secret(self) -> bool:
        """True when the built-in development secret signs tokens."""
        return self.tarsify_jwt_secret.get_secret_value() == DEV_JWT_SECRET

    def warn_if_insecure(self) -> None:
        """Log a warning for settings only acceptable on a developer machine."""
        if self.auth_backend == "jwt" and self.uses_dev_jwt_secret:
            log.warning(
                "config.dev_jwt_secret",
                extra={
                    "hint": "set TARSIFY_JWT_SECRET; the built-in one is public (loopback only)"
                },
            )
        elif self.api_key_pepper is None and self.uses_dev_jwt_secret:
            # With Firebase the JWT secret is unused, but API key hashes still derive from it.
            log.warning(
                "config.dev_api_key_pepper",
                extra={"hint": "set API_KEY_PEPPER; keys are hashed under a public default"},
            )
        if self.blob_store != "s3" and self.file_url_secret is None and self.uses_dev_jwt_secret:
            log.warning(
                "config.dev_file_url_secret",
                extra={
                    "hint": "set FILE_URL_SECRET or TARSIFY_JWT_SECRET: file links are forgeable"
                },
            )


def _limit_problems(redis_url: str | None, trusted_proxies: str) -> list[str]:
    """What is wrong with REDIS_URL and TRUSTED_PROXIES."""
    problems: list[str] = []
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://")):
        problems.append("REDIS_URL must be a redis:// or rediss:// URL")
    elif redis_url is not None and importlib.util.find_spec("redis") is None:
        problems.append("REDIS_URL needs the Redis client: pip install 'tarsify[redis]'")
    for item in _split_csv(trusted_proxies):
        try:
            ip_network(item, strict=False)
        except ValueError:
            problems.append(f"TRUSTED_PROXIES: {item!r} is not an address or a network")
    return problems


def config_problems(exc: ValidationError) -> list[str]:
    """One line per problem of a settings ``ValidationError``."""
    problems: list[str] = []
    for error in exc.errors():
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ConfigurationError):
            problems += cause.problems
        else:
            field = ".".join(str(p) for p in error["loc"]).upper() or "settings"
            problems.append(f"{field}: {error['msg']}")
    return problems


def resolve_log_format(fmt: str) -> Literal["json", "console"]:
    """LOG_FORMAT as rendered: ``auto`` is ``console`` when standard error is a terminal
    (a person reads it) and ``json`` otherwise (a collector reads it)."""
    if fmt == "auto":
        return "console" if sys.stderr.isatty() else "json"
    return "console" if fmt == "console" else "json"


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    """Route stdlib and structlog records through one renderer: JSON lines or console."""
    import structlog  # local: only processes that serve or work need it

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]
    structlog.configure(
        # Filtering first: a line below the level (the access log at WARNING) costs a
        # level check, not the whole chain.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if resolve_log_format(fmt) == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # The core logs with stdlib ``extra=``; ExtraAdder turns those into fields.
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # Alembic announces every plugin it loads at INFO; only its migration steps matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
