"""Signed, expiring URLs for files the service serves itself (``GET /files/{key}``).

``{base}/files/{key}?expires=<unix seconds>&sig=<hex HMAC-SHA256 of key and expiry>``.
The HMAC key is derived from the configured secret with a label of its own, so a file
signature can never be replayed as a webhook token or a JWT signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import quote

FILES_PATH = "/files/"
LABEL = b"tarsify-file-urls\0"


class FileUrlSigner:
    """Builds and checks the signed URLs of self-served files.

    ``base_url`` is this service's public address (``PUBLIC_BASE_URL``, else
    ``http://HOST:PORT``); ``now`` returns Unix seconds (swappable in tests).
    """

    def __init__(self, secret: str, base_url: str, *, now: Callable[[], float] = time.time) -> None:
        self._key = hashlib.sha256(LABEL + secret.encode()).digest()
        # The HMAC keyed once; each signature continues a copy of it.
        self._hmac = hmac.new(self._key, digestmod=hashlib.sha256)
        self.base_url = base_url.rstrip("/")
        self._now = now

    def signature(self, key: str, expires: int) -> str:
        """The hex signature of ``key`` valid until ``expires`` (Unix seconds)."""
        mac = self._hmac.copy()
        mac.update(f"{key}\n{expires}".encode())
        return mac.hexdigest()

    def url(self, key: str, expires_in_s: int) -> str:
        """An absolute URL reading ``key`` until ``expires_in_s`` seconds from now."""
        expires = int(self._now()) + max(int(expires_in_s), 1)
        path = quote(key, safe="/")
        query = f"expires={expires}&sig={self.signature(key, expires)}"
        return f"{self.base_url}{FILES_PATH}{path}?{query}"

    def verify(self, key: str, expires: str, sig: str) -> bool:
        """True when ``sig`` signs ``key`` until ``expires`` and that time has not passed
        (the comparison takes constant time)."""
        # ASCII digits only: str.isdigit() also takes "²" or "٣", which int() refuses or
        # reads as another number than the one signed.
        if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
            return False
        expected = self.signature(key, int(expires))
        if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
            return False
        return int(expires) > self._now()
