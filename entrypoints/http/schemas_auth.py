"""Registration's body and the developer's and consumer's own accounts."""

from __future__ import annotations

import uuid

from pydantic import Field

from tarsify.domain import models as m

from .schemas import RequestModel, Timestamp, View


class RegisterRequest(RequestModel):
    """Body of ``POST /api/{developer,consumer}/auth/register``; may be empty."""

    name: str | None = Field(default=None, min_length=1, max_length=200)


class DeveloperView(View):
    """The developer account behind the token."""

    id: uuid.UUID
    uid: str
    email: str
    name: str | None
    earnings_balance: int
    created_at: Timestamp
    updated_at: Timestamp


class ConsumerView(View):
    """The consumer account behind the token."""

    id: uuid.UUID
    uid: str
    email: str
    name: str | None
    credits_balance: int
    created_at: Timestamp
    updated_at: Timestamp


def developer_view(dev: m.Developer) -> DeveloperView:
    """The developer's own account."""
    return DeveloperView(
        id=dev.id,
        uid=dev.uid,
        email=dev.email,
        name=dev.name,
        earnings_balance=dev.earnings_balance,
        created_at=dev.created_at,
        updated_at=dev.updated_at,
    )


def consumer_view(con: m.Consumer) -> ConsumerView:
    """The consumer's own account."""
    return ConsumerView(
        id=con.id,
        uid=con.uid,
        email=con.email,
        name=con.name,
        credits_balance=con.credits_balance,
        created_at=con.created_at,
        updated_at=con.updated_at,
    )
