"""Webhook destinations: the URL rules, and where a name resolves to, checked each time.

``DestinationGuard.check`` resolves the host when a run asks for a webhook (400 for a
refused one); ``GuardedResolver`` is the resolver of the sender's connections, so the
address actually connected to is the address that was checked (a name that is made to
point elsewhere after the first check — DNS rebinding — is refused at send time).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from tarsify.domain.webhook_rules import (
    IpAddress,
    check_url,
    is_forbidden,
    literal_address,
    refused,
)

Lookup = Callable[[str, int], Awaitable[list[str]]]
# Which resolved addresses are refused.
Refusal = Callable[[IpAddress], bool]


async def system_lookup(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _checked(host: str, addresses: list[IpAddress]) -> None:
    if not addresses:
        raise refused(f"{host} does not resolve to any address")
    if any(is_forbidden(a) for a in addresses):
        raise refused(
            f"{host} points to a loopback, private, link-local or otherwise internal address"
        )


class DestinationGuard:
    """The ``WebhookDestinations`` port: http(s) only, and (unless private destinations
    are allowed) only public addresses."""

    def __init__(self, *, allow_private: bool, lookup: Lookup = system_lookup) -> None:
        self.allow_private = allow_private
        self._lookup = lookup

    async def check(self, url: str) -> None:
        """Return when ``url`` may be called; ``InvalidBody`` (ERR_2001) otherwise."""
        host, port = check_url(url)
        if self.allow_private:
            return
        literal = literal_address(host)
        if literal is not None:
            _checked(host, [literal])
            return
        try:
            found = await self._lookup(host, port)
        except (OSError, UnicodeError):
            raise refused(f"{host} cannot be resolved") from None
        _checked(host, [a for a in (literal_address(x) for x in found) if a is not None])

    def check_literal(self, url: str) -> None:
        """The send-time check of a URL whose host is an address (no resolver runs)."""
        host, _ = check_url(url)
        literal = literal_address(host)
        if literal is not None and not self.allow_private:
            _checked(host, [literal])


class RefusedAddress(OSError):
    """A name resolved to an internal address when a webhook was about to be sent."""


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing names that point at internal addresses (or at any
    address ``forbidden`` refuses)."""

    def __init__(self, forbidden: Refusal = is_forbidden) -> None:
        self._inner = DefaultResolver()
        self._forbidden = forbidden

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of ``host``; ``OSError`` when any of them is internal."""
        results = await self._inner.resolve(host, port, family)
        addresses = [literal_address(r["host"]) for r in results]
        if not results or any(a is None or self._forbidden(a) for a in addresses):
            raise RefusedAddress(f"refused: {host} resolves to an internal address")
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()
