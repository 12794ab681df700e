"""Accounts: developers, consumers and consumers' API keys."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Uuid,
    func,
    text,
)

from adapters.sql.tables.schema import metadata, timestamps
from adapters.sql.types import UtcDateTime
from tarsify.domain.models import MAX_ACCOUNT_NAME_CHARS, MAX_EMAIL_CHARS, MAX_UID_CHARS

developers = Table(
    "developers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("uid", String(MAX_UID_CHARS), nullable=False, unique=True),
    Column("email", String(MAX_EMAIL_CHARS), nullable=False),
    Column("name", String(MAX_ACCOUNT_NAME_CHARS)),
    Column("earnings_balance", BigInteger, nullable=False, server_default=text("0")),
    *timestamps(),
    CheckConstraint("earnings_balance >= 0", name="earnings_balance_non_negative"),
)

consumers = Table(
    "consumers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("uid", String(MAX_UID_CHARS), nullable=False, unique=True),
    Column("email", String(MAX_EMAIL_CHARS), nullable=False),
    Column("name", String(MAX_ACCOUNT_NAME_CHARS)),
    Column("credits_balance", BigInteger, nullable=False, server_default=text("0")),
    *timestamps(),
    # Credits reserved by unfinished runs (see ledger_entries).
    Column("credits_held", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint("credits_balance >= 0", name="credits_balance_non_negative"),
    CheckConstraint("credits_held >= 0", name="credits_held_non_negative"),
)

# Consumers' API keys: only an HMAC of each key is stored, looked up by its unique index.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("consumer_id", Uuid(), ForeignKey("consumers.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False, server_default=func.now()),
    Column("last_used_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
)
# A consumer's key list, newest first.
Index(
    "ix_api_keys_consumer_created",
    api_keys.c.consumer_id,
    api_keys.c.created_at.desc(),
    api_keys.c.id.desc(),
)
