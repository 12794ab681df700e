"""Request-rate limits at the HTTP edge: runs per consumer, open routes per address.

The run route counts each request of its consumer before anything else (no database
write happens for a refused one) and every answer to it, admitted or not, carries the
IETF ratelimit headers (draft-ietf-httpapi-ratelimit-headers): ``RateLimit-Policy:
"run";q=120;w=60`` and ``RateLimit: "run";r=117;t=42`` (``r``: what is left of the
quota, ``t``: seconds until it is whole again). A refusal is ``429 ERR_4292`` with
``Retry-After``.

The open routes (the web pages, sign-in included, the marketplace reads and file links)
count per client address: the peer, or, when the peer is one of ``TRUSTED_PROXIES``, the
nearest address of ``X-Forwarded-For`` that is not a trusted proxy. Refused: ``429
ERR_4293``. Health, metrics, the API reference and static files are never limited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from aiohttp import web

from tarsify.domain.errors import TooManyRequestsFromAddress, TooManyRuns
from tarsify.ports.limits import RateDecision

from .routing import Handler, services

RATE_HEADERS = web.RequestKey("rate_headers", dict[str, str])
Networks = Sequence[IPv4Network | IPv6Network]
# Paths counted per address (GET and HEAD): the marketplace reads, file links, the pages.
_OPEN_PREFIXES = ("/api/marketplace/models", "/files/", "/models/", "/sign-in")
_OPEN_PATHS = frozenset(("/", "/executions"))


def headers_of(name: str, decision: RateDecision) -> dict[str, str]:
    """The ``RateLimit-Policy`` and ``RateLimit`` headers of ``decision``."""
    return {
        "RateLimit-Policy": f'"{name}";q={decision.quota};w={decision.window_s}',
        "RateLimit": f'"{name}";r={decision.remaining};t={decision.reset_s}',
    }


async def count_run(request: web.Request, consumer_id: uuid.UUID) -> None:
    """Count a run of ``consumer_id``: ``TooManyRuns`` over the limit. The answer, whatever
    it is, carries the limit's headers."""
    limiter = services(request).run_limit
    if limiter is None:
        return
    decision = await limiter.hit(str(consumer_id))
    request[RATE_HEADERS] = headers_of(limiter.name, decision)
    if not decision.admitted:
        raise TooManyRuns(decision.quota, decision.window_s, decision.reset_s)


def client_address(request: web.Request, trusted: Networks) -> str:
    """The client's address: the peer, unless it is a trusted proxy; then the nearest
    ``X-Forwarded-For`` entry that is not one."""
    peer = request.remote or ""
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    chain = [
        part.strip()
        for header in request.headers.getall("X-Forwarded-For", ())
        for part in header.split(",")
    ]
    for hop in reversed(chain):
        if not _is_trusted(hop, trusted):
            return hop
    return chain[0] if chain else peer


def _is_trusted(address: str, trusted: Networks) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def _is_open(request: web.Request) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    path = request.path
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES)


@web.middleware
async def address_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``ANON_RATE_LIMIT_PER_MINUTE`` on the open routes, per client address."""
    if not _is_open(request):
        return await handler(request)
    svc = services(request)
    limiter = svc.anon_limit
    if limiter is None:
        return await handler(request)
    refused = await limiter.admit(client_address(request, svc.trusted_proxies))
    if refused is not None:
        request[RATE_HEADERS] = headers_of(limiter.name, refused)
        raise TooManyRequestsFromAddress(refused.quota, refused.window_s, refused.reset_s)
    return await handler(request)


async def add_rate_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the rate-limit headers a handler set, on whatever answer
    (a success or the error envelope) the request gets."""
    found = request.get(RATE_HEADERS)
    if found:
        response.headers.update(found)
