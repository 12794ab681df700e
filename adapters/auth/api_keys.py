"""The verifier that routes between API keys and identity-provider tokens, so routes
never care which credential was used. Keys are checked by the core's own verifier
(``tarsify.services.api_keys.ApiKeyVerifier``), given by the container."""

from __future__ import annotations

from tarsify.domain.api_keys import looks_like_api_key
from tarsify.domain.models import Identity
from tarsify.ports.identity import Audience, IdentityVerifier


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
