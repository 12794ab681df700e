"""Consumers' API keys: create, list, revoke, and authenticate a request by its key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from tarsify.domain.api_keys import (
    LAST_USED_RESOLUTION_S,
    MAX_ACTIVE_KEYS,
    MAX_KEY_CHARS,
    NAME_MAX_CHARS,
    ApiKey,
    KeyHasher,
    display_prefix,
    generate_key,
    looks_like_api_key,
)
from tarsify.domain.errors import InvalidBody, InvalidToken, NotFound, TooManyApiKeys
from tarsify.domain.models import Identity, new_id
from tarsify.domain.pagination import Page, PageRequest
from tarsify.ports.clock import Clock
from tarsify.ports.identity import Audience
from tarsify.ports.storage import UnitOfWorkFactory


@dataclass(slots=True, frozen=True)
class CreatedKey:
    """A new key: the stored record and the secret, which exists only in this answer."""

    api_key: ApiKey
    secret: str


class ApiKeyService:
    """A consumer's API keys. Nothing is cached: a revoked key fails on its next use in
    every process, and a key lookup is one indexed read."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, hasher: KeyHasher) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher

    async def create(self, consumer_id: uuid.UUID, name: str) -> CreatedKey:
        """A new key for the consumer; ``InvalidBody`` for an empty or too long name,
        ``TooManyApiKeys`` when it already has ``MAX_ACTIVE_KEYS`` working keys."""
        name = _checked_name(name)
        secret = generate_key()
        api_key = ApiKey(
            new_id(),
            consumer_id,
            name,
            display_prefix(secret),
            self._hasher.hash(secret),
            self._clock.now(),
        )
        async with self._uow() as uow:
            if not await uow.api_keys.add_within(api_key, MAX_ACTIVE_KEYS):
                raise TooManyApiKeys(MAX_ACTIVE_KEYS)
            await uow.commit()
        return CreatedKey(api_key, secret)

    async def list(self, consumer_id: uuid.UUID, page: PageRequest) -> Page[ApiKey]:
        """The consumer's keys that still work, newest first."""
        async with self._uow() as uow:
            return await uow.api_keys.list_active(consumer_id, page)

    async def revoke(self, consumer_id: uuid.UUID, api_key_id: uuid.UUID) -> ApiKey:
        """Revoke one of the consumer's keys; ``NotFound`` for unknown, revoked or others'."""
        now = self._clock.now()
        async with self._uow() as uow:
            api_key = await uow.api_keys.get(api_key_id)
            if api_key is None or api_key.consumer_id != consumer_id or api_key.is_revoked:
                raise NotFound("API key not found")
            if not await uow.api_keys.revoke(api_key_id, now):
                raise NotFound("API key not found")  # revoked concurrently
            await uow.commit()
        api_key.revoked_at = now
        return api_key

    async def authenticate(self, secret: str, audience: Audience) -> Identity:
        """The consumer identity of a working key; ``InvalidToken`` otherwise.

        Keys belong to consumers only: on any other audience a key is an invalid token.
        """
        if audience is not Audience.CONSUMERS:
            raise InvalidToken("API keys are valid on consumer routes only")
        if not looks_like_api_key(secret) or len(secret) > MAX_KEY_CHARS:
            raise InvalidToken()
        now = self._clock.now()
        async with self._uow() as uow:
            owner = await uow.api_keys.find_active(self._hasher.hash(secret))
            if owner is None:
                raise InvalidToken("Invalid or revoked API key")
            used_before = now - timedelta(seconds=LAST_USED_RESOLUTION_S)
            last_used = owner.key.last_used_at
            # One write a minute per key at most, not one per request.
            if (last_used is None or last_used < used_before) and await uow.api_keys.touch(
                owner.key.id, now, used_before
            ):
                await uow.commit()
        return Identity(
            uid=owner.uid,
            email=owner.email,
            audience=Audience.CONSUMERS.value,
            name=owner.name,
            claims={"apiKeyId": str(owner.key.id)},
        )


class ApiKeyVerifier:
    """The ``IdentityVerifier`` of ``tsk_`` keys: the consumer who owns an unrevoked key
    (``ApiKeyService.authenticate``)."""

    def __init__(self, keys: ApiKeyService) -> None:
        self._keys = keys

    async def verify(self, token: str, audience: Audience) -> Identity:
        """The key owner's identity on consumer routes; ``InvalidToken`` otherwise."""
        return await self._keys.authenticate(token, audience)


def _checked_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX_CHARS:
        raise InvalidBody(
            "Invalid API key name",
            details=[{"field": "name", "message": f"1-{NAME_MAX_CHARS} characters"}],
        )
    return name
