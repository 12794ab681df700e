"""Request-rate limits, and the Redis every process counts them in."""

from __future__ import annotations

import importlib.util

from pydantic import Field

from entrypoints.config.common import Group


class RateLimitConfig(Group):
    """RUN_RATE_LIMIT_PER_MINUTE, ANON_RATE_LIMIT_PER_MINUTE, REDIS_URL."""

    # Runs per consumer per minute (0: no limit); shared through REDIS_URL when set.
    run_per_minute: int = Field(
        default=120, ge=0, le=1_000_000, validation_alias="RUN_RATE_LIMIT_PER_MINUTE"
    )
    # Requests per client address per minute to the open routes (0: no limit).
    anon_per_minute: int = Field(
        default=600, ge=0, le=1_000_000, validation_alias="ANON_RATE_LIMIT_PER_MINUTE"
    )
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")

    def problems(self) -> list[str]:
        url = self.redis_url
        if url is not None and not url.startswith(("redis://", "rediss://")):
            return ["REDIS_URL must be a redis:// or rediss:// URL"]
        if url is not None and importlib.util.find_spec("redis") is None:
            return ["REDIS_URL needs the Redis client: pip install 'tarsify[redis]'"]
        return []
