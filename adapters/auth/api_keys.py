"""API keys as bearer credentials: a key verifier, and the verifier that routes between
keys and identity-provider tokens, so routes never care which credential was used."""

from __future__ import annotations

from tarsify.domain.api_keys import looks_like_api_key
from tarsify.domain.models import Identity
from tarsify.ports import Audience, IdentityVerifier
from tarsify.services.api_keys import ApiKeyService


class ApiKeyVerifier:
    """IdentityVerifier for ``tsk_`` keys: the consumer who owns an unrevoked key.

    Every call reads the database (one indexed lookup): nothing is cached, so a revoked
    key is refused at once by every process. Keys are valid for consumers only.
    """

    def __init__(self, keys: ApiKeyService) -> None:
        self._keys = keys

    async def verify(self, token: str, audience: Audience) -> Identity:
        """The key owner's identity on consumer routes; ``InvalidToken`` otherwise."""
        return await self._keys.authenticate(token, audience)


class CompositeVerifier:
    """Sends ``tsk_`` tokens to the key verifier and every other token to the identity
    provider's verifier (JWT or Firebase)."""

    def __init__(self, tokens: IdentityVerifier, keys: IdentityVerifier) -> None:
        self._tokens = tokens
        self._keys = keys

    async def verify(self, token: str, audience: Audience) -> Identity:
        """The identity behind ``token`` for ``audience``; raises ``InvalidToken``."""
        if looks_like_api_key(token):
            return await self._keys.verify(token, audience)
        return await self._tokens.verify(token, audience)
