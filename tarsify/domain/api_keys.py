"""Consumer API keys: the entity, how keys are made, and how they are hashed for storage.

A key is ``tsk_`` + 43 URL-safe characters (256 random bits). Only an HMAC-SHA256 of it
under a server-side pepper is stored. A fast keyed hash is the right tool here: the
keys are random, so there is nothing to brute-force the way there is with passwords,
and the pepper keeps a stolen table from being checked against guesses offline.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

KEY_PREFIX = "tsk_"
RANDOM_BYTES = 32  # token_urlsafe(32): 43 characters
DISPLAY_CHARS = 12  # "tsk_" and the first 8 random characters: enough to tell keys apart
MAX_KEY_CHARS = 256  # anything longer is not a key of ours; refused before hashing
NAME_MAX_CHARS = 100
# Active (unrevoked) keys a consumer may hold at once: enough for every deployment and
# rotation, few enough that the list is one page and nobody mints keys without bound.
MAX_ACTIVE_KEYS = 20
LAST_USED_RESOLUTION_S = 60.0  # last_used_at moves at most once a minute per key
PEPPER_LABEL = b"tarsify/api-key-pepper/v1"
MIN_PEPPER_BYTES = 32


@dataclass(slots=True)
class ApiKey:
    """A consumer's API key as stored: never the key itself, only its hash."""

    id: uuid.UUID
    consumer_id: uuid.UUID
    name: str
    prefix: str
    key_hash: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        """True once the key has been revoked (it never works again)."""
        return self.revoked_at is not None


@dataclass(slots=True, frozen=True)
class ApiKeyOwner:
    """An active key with the account it authenticates as (one lookup)."""

    key: ApiKey
    uid: str
    email: str
    name: str | None


def looks_like_api_key(token: str) -> bool:
    """True for tokens shaped like our keys (so they are never sent to a JWT verifier)."""
    return token.startswith(KEY_PREFIX)


def generate_key() -> str:
    """A fresh secret key; shown to its owner once and never stored."""
    return KEY_PREFIX + secrets.token_urlsafe(RANDOM_BYTES)


def display_prefix(key: str) -> str:
    """The part of a key shown in lists, so owners can tell their keys apart."""
    return key[:DISPLAY_CHARS]


def derive_pepper(secret: str) -> bytes:
    """A pepper derived from another server secret, with its own label: the derived
    value says nothing about the secret, and no other use of the secret yields it."""
    return hmac.new(secret.encode(), PEPPER_LABEL, hashlib.sha256).digest()


class KeyHasher:
    """Hashes keys for storage and lookup: hex HMAC-SHA256 under the server's pepper."""

    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < MIN_PEPPER_BYTES:
            raise ValueError(f"the API key pepper needs at least {MIN_PEPPER_BYTES} bytes")
        self._pepper = pepper

    def hash(self, key: str) -> str:
        """The stored form of ``key``."""
        return hmac.new(self._pepper, key.encode(), hashlib.sha256).hexdigest()
