"""The service's settings: one group per concern (``settings.database``, ``settings.gpu``,
...), each read from its environment variables (and ``.env``), composed by ``Settings``."""

from entrypoints.config.auth import (
    DEV_JWT_SECRET,
    FIREBASE_EXTRA_MISSING,
    AuthConfig,
    firebase_installed,
)
from entrypoints.config.common import MIN_SECRET_BYTES, ConfigurationError
from entrypoints.config.database import DatabaseConfig
from entrypoints.config.engine import EngineConfig, EventsConfig
from entrypoints.config.files import FileConfig
from entrypoints.config.gpu import GpuConfig
from entrypoints.config.limits import RateLimitConfig
from entrypoints.config.logs import LoggingConfig, configure_logging, resolve_log_format
from entrypoints.config.server import ServerConfig
from entrypoints.config.settings import VARIABLES, Settings, config_problems
from entrypoints.config.webhooks import WebhookConfig

__all__ = [
    "DEV_JWT_SECRET",
    "FIREBASE_EXTRA_MISSING",
    "MIN_SECRET_BYTES",
    "VARIABLES",
    "AuthConfig",
    "ConfigurationError",
    "DatabaseConfig",
    "EngineConfig",
    "EventsConfig",
    "FileConfig",
    "GpuConfig",
    "LoggingConfig",
    "RateLimitConfig",
    "ServerConfig",
    "Settings",
    "WebhookConfig",
    "config_problems",
    "configure_logging",
    "firebase_installed",
    "resolve_log_format",
]
