"""The HTTP server: where it listens, where clients reach it, what it accepts from whom."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from urllib.parse import urlsplit

from pydantic import Field

from entrypoints.config.common import MIB, Group, split_csv


def is_origin(origin: str) -> bool:
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


class ServerConfig(Group):
    """HOST, PORT, PUBLIC_BASE_URL, CORS_ORIGINS, MAX_BODY_BYTES, TRUSTED_PROXIES."""

    host: str = Field(default="127.0.0.1", validation_alias="HOST")
    port: int = Field(default=8000, ge=1, le=65535, validation_alias="PORT")
    public_base_url: str | None = Field(default=None, validation_alias="PUBLIC_BASE_URL")
    cors_origins: str = Field(default="", validation_alias="CORS_ORIGINS")
    max_body_bytes: int = Field(default=MIB, ge=1024, validation_alias="MAX_BODY_BYTES")
    # Peers whose X-Forwarded-For names the client (addresses or networks, comma-separated).
    trusted_proxies: str = Field(default="", validation_alias="TRUSTED_PROXIES")

    def problems(self) -> list[str]:
        problems: list[str] = []
        if self.public_base_url and not self.public_base_url.startswith(("http://", "https://")):
            problems.append("PUBLIC_BASE_URL must be an http(s) URL")
        for item in split_csv(self.trusted_proxies):
            try:
                ip_network(item, strict=False)
            except ValueError:
                problems.append(f"TRUSTED_PROXIES: {item!r} is not an address or a network")
        problems += [
            f"CORS_ORIGINS must be * or comma-separated origins such as "
            f"https://app.example.com, not {origin!r}"
            for origin in self.cors_origin_list
            if not is_origin(origin)
        ]
        return problems

    @property
    def public_url(self) -> str:
        """Where clients reach this service: PUBLIC_BASE_URL, else ``http://HOST:PORT``."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def cors_origin_list(self) -> list[str]:
        """CORS_ORIGINS as a list (empty: CORS disabled)."""
        return split_csv(self.cors_origins)

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """TRUSTED_PROXIES as networks (a bare address is a network of one)."""
        return tuple(ip_network(item, strict=False) for item in split_csv(self.trusted_proxies))
