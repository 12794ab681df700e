"""Logging: its level and format, and the one renderer every record goes through."""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pydantic import Field

from entrypoints.config.common import Group

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class LoggingConfig(Group):
    """LOG_LEVEL, LOG_FORMAT."""

    level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    # auto: readable lines when standard error is a terminal, JSON lines otherwise.
    format: Literal["auto", "json", "console"] = Field(
        default="auto", validation_alias="LOG_FORMAT"
    )

    def problems(self) -> list[str]:
        if self.level.upper() not in LOG_LEVELS:
            levels = ", ".join(LOG_LEVELS)
            return [f"LOG_LEVEL must be one of {levels}, not {self.level!r}"]
        return []


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
