"""Consumers' API keys: the body that creates one, and how a key is shown."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import StringConstraints

from tarsify.domain.api_keys import NAME_MAX_CHARS, ApiKey
from tarsify.services.api_keys import CreatedKey

from .schemas import RequestModel, Timestamp, View


class ApiKeyCreate(RequestModel):
    """Create an API key (consumer): a name to recognise it by."""

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_CHARS)
    ]


class ApiKeyView(View):
    """An API key as listed: never the key, only its first characters (``prefix``)."""

    id: uuid.UUID
    name: str
    prefix: str
    created_at: Timestamp
    last_used_at: Timestamp | None


class CreatedApiKeyView(ApiKeyView):
    """A new API key, with the secret ``key``: this is the only answer that shows it."""

    key: str


class RevokedApiKeyView(ApiKeyView):
    """An API key that has just been revoked."""

    revoked_at: Timestamp


def _fields(api_key: ApiKey) -> dict[str, Any]:
    """What every view of a key shows."""
    return {
        "id": api_key.id,
        "name": api_key.name,
        "prefix": api_key.prefix,
        "created_at": api_key.created_at,
        "last_used_at": api_key.last_used_at,
    }


def api_key_view(api_key: ApiKey) -> ApiKeyView:
    """A key in its consumer's list."""
    return ApiKeyView(**_fields(api_key))


def created_api_key_view(created: CreatedKey) -> CreatedApiKeyView:
    """A new key with its secret, shown this once."""
    return CreatedApiKeyView(**_fields(created.api_key), key=created.secret)


def revoked_api_key_view(revoked: ApiKey) -> RevokedApiKeyView:
    """A key just revoked."""
    return RevokedApiKeyView(**_fields(revoked) | {"revoked_at": revoked.revoked_at})
