"""An identity verifier that knows a fixed set of tokens."""

from __future__ import annotations

from tarsify.domain.errors import InvalidToken
from tarsify.domain.models import Identity
from tarsify.ports.identity import Audience


class StaticIdentityVerifier:
    """Maps known token strings to identities; anything else is an invalid token."""

    def __init__(self, tokens: dict[str, Identity] | None = None) -> None:
        self.tokens: dict[str, Identity] = dict(tokens or {})

    def issue(self, token: str, identity: Identity) -> str:
        """Register ``token`` for ``identity`` and return it."""
        self.tokens[token] = identity
        return token

    async def verify(self, token: str, audience: Audience) -> Identity:
        """The identity of a known token of ``audience``; ``InvalidToken`` otherwise."""
        identity = self.tokens.get(token)
        if identity is None or identity.audience != audience:
            raise InvalidToken()
        return identity
