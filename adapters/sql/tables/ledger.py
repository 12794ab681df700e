"""Credits: the append-only ledger and the rules the database enforces on it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
)

from adapters.sql.tables.schema import metadata, partial_index
from adapters.sql.types import UtcDateTime, str_enum
from tarsify.domain.credits import MAX_REASON_CHARS, AccountType, EntryType

# Ledger rules the database enforces (migration 0007 spells the same text).
SETTLEMENT_PREDICATE = "type IN ('CAPTURE', 'RELEASE')"
LEDGER_SIGN_RULE = (
    "(type IN ('GRANT', 'RELEASE', 'EARNING', 'FEE') AND amount > 0) "
    "OR (type IN ('HOLD', 'CAPTURE') AND amount < 0)"
)
LEDGER_ACCOUNT_RULE = (
    "(account_type = 'CONSUMER' AND account_id IS NOT NULL "
    "AND type IN ('GRANT', 'HOLD', 'CAPTURE', 'RELEASE')) "
    "OR (account_type = 'DEVELOPER' AND account_id IS NOT NULL AND type = 'EARNING') "
    "OR (account_type = 'PLATFORM' AND account_id IS NULL AND type = 'FEE')"
)


# The append-only ledger of credits (tarsify/domain/credits.py): every movement is a row;
# balances on consumers and developers are kept in the same transaction and can be
# rebuilt from these rows alone (``tarsify ledger check``). A trigger refuses UPDATE.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("account_type", str_enum(AccountType, "ledger_account_type"), nullable=False),
    Column("account_id", Uuid()),
    Column("type", str_enum(EntryType, "ledger_entry_type"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("execution_id", Uuid(), ForeignKey("executions.id")),
    # The execution's Tars model (a copy, so a model's entries are read without the
    # executions); None when there is no execution. The audit checks the two agree.
    Column("tars_model_id", Uuid()),
    Column("reason", String(MAX_REASON_CHARS)),
    Column("created_at", UtcDateTime(), nullable=False, server_default=func.now()),
    # Exactly once: one entry of each type per execution.
    UniqueConstraint("execution_id", "type"),
    CheckConstraint(LEDGER_SIGN_RULE, name="amount_sign"),
    CheckConstraint(LEDGER_ACCOUNT_RULE, name="account_of_type"),
)
# An account's ledger page by page, newest first.
Index(
    "ix_ledger_entries_account_created",
    ledger_entries.c.account_type,
    ledger_entries.c.account_id,
    ledger_entries.c.created_at.desc(),
    ledger_entries.c.id.desc(),
)
# A model's entries of a type by time, the amount included: a model's earnings per day
# are read from this index alone (an index-only scan on PostgreSQL).
Index(
    "ix_ledger_entries_model_type_created",
    ledger_entries.c.tars_model_id,
    ledger_entries.c.type,
    ledger_entries.c.created_at,
    postgresql_include=["amount"],
)
# One settlement per execution: a hold is either captured or released, never both.
partial_index(
    "ux_ledger_entries_settlement",
    ledger_entries.c.execution_id,
    where=SETTLEMENT_PREDICATE,
    unique=True,
)
