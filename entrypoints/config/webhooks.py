"""Webhooks: the key of the provider callbacks, and the delivery of consumers' webhooks."""

from __future__ import annotations

from pydantic import Field, SecretStr

from entrypoints.config.common import MIN_SECRET_BYTES, Group, short, split_csv
from tarsify.domain.webhooks import DEFAULT_RETRY_DELAYS_S


def parse_delays(raw: str) -> tuple[float, ...] | None:
    """Comma-separated positive seconds, or None when that is not what ``raw`` holds."""
    try:
        delays = tuple(float(part) for part in split_csv(raw))
    except ValueError:
        return None
    if not 1 <= len(delays) <= 50 or not all(0 < d <= 7 * 24 * 3600 for d in delays):
        return None
    return delays


class WebhookConfig(Group):
    """WEBHOOK_SECRET, WEBHOOK_ALLOW_PRIVATE, WEBHOOK_TIMEOUT, WEBHOOK_RETRY_DELAYS,
    WEBHOOK_DELIVERY_ENABLED, WEBHOOK_DELIVERY_INTERVAL, WEBHOOK_CONCURRENCY_PER_HOST."""

    secret: SecretStr | None = Field(default=None, validation_alias="WEBHOOK_SECRET")
    allow_private: bool = Field(default=False, validation_alias="WEBHOOK_ALLOW_PRIVATE")
    timeout: float = Field(default=10.0, gt=0.0, le=60.0, validation_alias="WEBHOOK_TIMEOUT")
    retry_delays: str = Field(
        default=",".join(f"{d:g}" for d in DEFAULT_RETRY_DELAYS_S),
        validation_alias="WEBHOOK_RETRY_DELAYS",
    )
    delivery_enabled: bool = Field(default=True, validation_alias="WEBHOOK_DELIVERY_ENABLED")
    delivery_interval: float = Field(
        default=1.0, gt=0.0, validation_alias="WEBHOOK_DELIVERY_INTERVAL"
    )
    # Attempts in flight to one receiver's host at a time (the rest wait their turn).
    concurrency_per_host: int = Field(
        default=4, ge=1, le=64, validation_alias="WEBHOOK_CONCURRENCY_PER_HOST"
    )

    def problems(self) -> list[str]:
        problems: list[str] = []
        if parse_delays(self.retry_delays) is None:
            problems.append(
                "WEBHOOK_RETRY_DELAYS must be comma-separated positive seconds (1 to 50 of them)"
            )
        if self.secret is not None and short(self.secret):
            problems.append(f"WEBHOOK_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        return problems

    @property
    def retry_delay_list(self) -> tuple[float, ...]:
        """WEBHOOK_RETRY_DELAYS as seconds: the wait after each failed attempt."""
        return parse_delays(self.retry_delays) or DEFAULT_RETRY_DELAYS_S
