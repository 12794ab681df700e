"""Identity: who a bearer token names, for which audience."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from tarsify.domain.models import (
    Identity,
)


class Audience(StrEnum):
    """The two user populations; a token of one never authenticates on the other."""

    CONSUMERS = "tarsify-consumers"
    DEVELOPERS = "tarsify-developers"


class IdentityVerifier(Protocol):
    """Verifies bearer tokens (HS256 JWT, Firebase ID tokens)."""

    async def verify(self, token: str, audience: Audience) -> Identity:
        """The identity behind ``token`` for ``audience``; raises ``InvalidToken``."""
        ...
