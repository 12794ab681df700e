"""Settings of the rate limits and the data layer: defaults and what is refused."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest

from entrypoints.config import Settings


def settings(**values: Any) -> Settings:
    return Settings.from_variables(**values)


def test_defaults() -> None:
    found = settings()
    assert (found.rate_limits.run_per_minute, found.rate_limits.anon_per_minute) == (120, 600)
    assert found.rate_limits.redis_url is None and found.server.trusted_proxy_networks == ()
    assert found.database.pooler == "none" and not found.database.pooled


def test_trusted_proxies_are_addresses_or_networks() -> None:
    found = settings(trusted_proxies="10.0.0.0/8, 127.0.0.1 ,::1")
    assert found.server.trusted_proxy_networks == (
        ip_network("10.0.0.0/8"),
        ip_network("127.0.0.1/32"),
        ip_network("::1/128"),
    )
    with pytest.raises(ValueError, match=r"TRUSTED_PROXIES: 'proxy\.internal'"):
        settings(trusted_proxies="10.0.0.1, proxy.internal")


def test_redis_url_must_be_a_redis_url() -> None:
    assert settings(redis_url="redis://127.0.0.1:6379/0").rate_limits.redis_url
    with pytest.raises(ValueError, match="REDIS_URL must be a redis://"):
        settings(redis_url="http://127.0.0.1:6379")


def test_limits_are_never_negative() -> None:
    with pytest.raises(ValueError, match="RUN_RATE_LIMIT_PER_MINUTE"):
        settings(run_rate_limit_per_minute=-1)
    assert settings(anon_rate_limit_per_minute=0).rate_limits.anon_per_minute == 0
