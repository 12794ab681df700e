"""Rules of webhook destinations and of Standard Webhooks signatures.

Signatures follow https://www.standardwebhooks.com: the secret is shown as ``whsec_`` +
base64 of its bytes, and ``webhook-signature`` is ``v1,`` + base64 of the HMAC-SHA256 of
``{webhook-id}.{webhook-timestamp}.{body}`` under those bytes.

Destinations: only ``http``/``https`` URLs, and never an address inside the service's
own network (loopback, private, link-local — the cloud metadata service at
169.254.169.254 included —, unspecified, multicast, reserved), unless the operator
allows private destinations. The address is checked where the name is resolved, each
time a request is made, so a name that changes what it points to cannot slip through.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from tarsify.domain.errors import InvalidBody
from tarsify.domain.webhooks import MAX_URL_CHARS

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"
FIELD = "webhook"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes whose last 32 bits are an IPv4 address the packet ends up at: NAT64
# (RFC 6052 well-known and RFC 8215 local-use), IPv4-compatible (deprecated, RFC 4291)
# and IPv4-translated (RFC 2765) addresses.
_IPV4_SUFFIX_NETS = tuple(
    ipaddress.IPv6Network(net)
    for net in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96")
)


def new_secret() -> str:
    """A new signing secret, stored as base64 of 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def shown_secret(stored: str) -> str:
    """The secret as consumers see and configure it: ``whsec_`` + base64."""
    return SECRET_PREFIX + stored


def sign(stored_secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value of one attempt."""
    key = base64.b64decode(stored_secret)
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def refused(reason: str) -> InvalidBody:
    """The error of a refused webhook URL (400 ERR_2001 with the field)."""
    return InvalidBody(
        f"Webhook URL refused: {reason}", details=[{"field": FIELD, "message": reason}]
    )


def check_url(url: str) -> tuple[str, int]:
    """``(host, port)`` of an acceptable webhook URL; ``InvalidBody`` otherwise."""
    if len(url) > MAX_URL_CHARS:
        raise refused(f"longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refused("not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise refused("only http and https URLs are accepted")
    if not parts.hostname:
        raise refused("the URL has no host")
    if any(c.isspace() or ord(c) < 0x21 for c in url):
        raise refused("the URL contains spaces or control characters")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def literal_address(host: str) -> IpAddress | None:
    """The address written in the URL itself (``10.0.0.1``, ``[::1]``), or None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: 6to4 (``2002::/16``), both ends of
    Teredo (``2001::/32``, the client's obfuscated), NAT64 and IPv4-compatible ones."""
    found: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in net for net in _IPV4_SUFFIX_NETS):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_forbidden(address: IpAddress) -> bool:
    """True for an address inside the service's own networks, or no real destination.

    An IPv6 address that wraps an IPv4 one (``2002:7f00:1::`` is 6to4 for 127.0.0.1) is
    forbidden when what it wraps is, and Teredo always (a relay decides where it goes).
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.teredo is not None or any(map(is_forbidden, embedded_ipv4(address))):
            return True
    return (
        not address.is_global
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    )
