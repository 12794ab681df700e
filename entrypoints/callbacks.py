"""Provider callback URLs handed to the GPU provider: one unguessable URL per execution.

RunPod does not sign its calls (its ``webhook``), so the URL carries the authentication: an
HMAC-SHA256 of the execution id under a server secret. A call is only a hint to re-read
the job's status from the provider; its body is never trusted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

PATH = "/webhooks/runpod/{id}/{token}"


class CallbackUrls:
    """Builds and checks the per-execution callback URLs under ``base_url``."""

    def __init__(self, base_url: str, secret: str) -> None:
        self._base = base_url.rstrip("/")
        self._key = hashlib.sha256(b"tarsify-webhooks\0" + secret.encode()).digest()

    def token(self, execution_id: uuid.UUID) -> str:
        """The URL token of ``execution_id``."""
        digest = hmac.new(self._key, execution_id.bytes, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def url_for(self, execution_id: uuid.UUID) -> str:
        """The callback URL of ``execution_id``."""
        path = PATH.format(id=execution_id, token=self.token(execution_id))
        return f"{self._base}{path}"

    def verify(self, execution_id: uuid.UUID, token: str) -> bool:
        """True when ``token`` is the URL token of ``execution_id`` (constant time)."""
        return hmac.compare_digest(self.token(execution_id).encode(), token.encode())
