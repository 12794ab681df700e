"""Credits: prices, balances that cannot go negative, and the append-only ledger.

- ``consumers.credits_held`` (credits reserved by unfinished runs); balances become
  BIGINT with CHECK constraints: no balance, hold or earnings is ever negative;
- ``base_models.min_price_per_run`` and ``tars_models.price_per_run`` (>= 0);
- ``executions.price``: the credits held when the execution was created, and a partial
  index on the consumer's unfinished executions (the active-executions limit);
- ``ledger_entries``: one row per movement, with the sign of each type's amount, the
  account of each type, one entry per (execution, type) and one settlement per execution
  enforced by the database, and a trigger that refuses any UPDATE;
- consumers' existing balances become opening GRANT entries, so the ledger accounts for
  every credit from the start.

Revision ID: 0007_credits
Revises: 0005_execution_files (chained after 0006_webhooks when merged)
Create Date: 2026-12-02 00:00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007_credits"
down_revision: str | None = "0006_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the rules in adapters/sql/tables/ledger.py.
ACTIVE_PREDICATE = "status IN ('PENDING', 'QUEUED', 'RUNNING')"
SETTLEMENT_PREDICATE = "type IN ('CAPTURE', 'RELEASE')"
SIGN_RULE = (
    "(type IN ('GRANT', 'RELEASE', 'EARNING', 'FEE') AND amount > 0) "
    "OR (type IN ('HOLD', 'CAPTURE') AND amount < 0)"
)
ACCOUNT_RULE = (
    "(account_type = 'CONSUMER' AND account_id IS NOT NULL "
    "AND type IN ('GRANT', 'HOLD', 'CAPTURE', 'RELEASE')) "
    "OR (account_type = 'DEVELOPER' AND account_id IS NOT NULL AND type = 'EARNING') "
    "OR (account_type = 'PLATFORM' AND account_id IS NULL AND type = 'FEE')"
)
ACCOUNT_TYPES = ("CONSUMER", "DEVELOPER", "PLATFORM")
ENTRY_TYPES = ("GRANT", "HOLD", "CAPTURE", "RELEASE", "EARNING", "FEE")
ZERO = sa.text("0")


def _amount(name: str, type_: type[sa.Integer] = sa.Integer) -> sa.Column[int]:
    """A NOT NULL count of credits, 0 by default."""
    return sa.Column(name, type_(), nullable=False, server_default=ZERO)


PG_APPEND_ONLY = (
    """CREATE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'ledger_entries is append-only';
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()""",
)
SQLITE_APPEND_ONLY = (
    """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END""",
)


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def _balances() -> None:
    with op.batch_alter_table("consumers") as batch:
        batch.alter_column(
            "credits_balance", type_=sa.BigInteger(), existing_type=sa.Integer(),
            existing_nullable=False, existing_server_default=ZERO,
        )  # fmt: skip
        batch.add_column(_amount("credits_held", sa.BigInteger))
        batch.create_check_constraint(
            op.f("ck_consumers_credits_balance_non_negative"), "credits_balance >= 0"
        )
        batch.create_check_constraint(
            op.f("ck_consumers_credits_held_non_negative"), "credits_held >= 0"
        )
    with op.batch_alter_table("developers") as batch:
        batch.alter_column(
            "earnings_balance", type_=sa.BigInteger(), existing_type=sa.Integer(),
            existing_nullable=False, existing_server_default=ZERO,
        )  # fmt: skip
        batch.create_check_constraint(
            op.f("ck_developers_earnings_balance_non_negative"), "earnings_balance >= 0"
        )


def _prices() -> None:
    with op.batch_alter_table("base_models") as batch:
        batch.add_column(_amount("min_price_per_run"))
        batch.create_check_constraint(
            op.f("ck_base_models_min_price_per_run_non_negative"), "min_price_per_run >= 0"
        )
    with op.batch_alter_table("tars_models") as batch:
        batch.add_column(_amount("price_per_run"))
        batch.create_check_constraint(
            op.f("ck_tars_models_price_per_run_non_negative"), "price_per_run >= 0"
        )
    with op.batch_alter_table("executions") as batch:
        batch.add_column(_amount("price"))
    op.create_index(
        "ix_executions_consumer_active",
        "executions",
        ["consumer_id"],
        postgresql_where=sa.text(ACTIVE_PREDICATE),
        sqlite_where=sa.text(ACTIVE_PREDICATE),
    )


def _ledger() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_type", _enum(ACCOUNT_TYPES, "ledger_account_type"), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("type", _enum(ENTRY_TYPES, "ledger_entry_type"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
        sa.ForeignKeyConstraint(
            ["execution_id"], ["executions.id"], name="fk_ledger_entries_execution_id_executions"
        ),
        sa.UniqueConstraint("execution_id", "type", name="uq_ledger_entries_execution_id_type"),
        sa.CheckConstraint(SIGN_RULE, name=op.f("ck_ledger_entries_amount_sign")),
        sa.CheckConstraint(ACCOUNT_RULE, name=op.f("ck_ledger_entries_account_of_type")),
    )
    op.create_index(
        "ix_ledger_entries_account_created",
        "ledger_entries",
        ["account_type", "account_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ux_ledger_entries_settlement",
        "ledger_entries",
        ["execution_id"],
        unique=True,
        postgresql_where=sa.text(SETTLEMENT_PREDICATE),
        sqlite_where=sa.text(SETTLEMENT_PREDICATE),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in PG_APPEND_ONLY if postgres else SQLITE_APPEND_ONLY:
        op.execute(statement)


def _opening_grants() -> None:
    """Balances stored before the ledger existed become GRANT entries."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, credits_balance FROM consumers WHERE credits_balance > 0")
    )
    entries = sa.table(
        "ledger_entries",
        *(sa.column(n) for n in ("id", "account_type", "account_id", "type", "amount", "reason")),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    for consumer_id, balance in rows.all():
        op.execute(
            entries.insert().values(
                id=uuid.uuid4(), account_type="CONSUMER", account_id=consumer_id, type="GRANT",
                amount=balance, reason="opening balance", created_at=now,
            )
        )  # fmt: skip


def upgrade() -> None:
    """Add prices, held credits, the balance constraints and the ledger."""
    _balances()
    _prices()
    _ledger()
    _opening_grants()


def downgrade() -> None:
    """Drop the ledger and the prices; balances go back to plain integers."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_entries_no_update ON ledger_entries")
        op.execute("DROP FUNCTION ledger_entries_append_only()")
    op.drop_index("ux_ledger_entries_settlement", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_account_created", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_executions_consumer_active", table_name="executions")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("price")
    for table, column in (("tars_models", "price_per_run"), ("base_models", "min_price_per_run")):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_{column}_non_negative"), type_="check")
            batch.drop_column(column)
    with op.batch_alter_table("developers") as batch:
        batch.drop_constraint(op.f("ck_developers_earnings_balance_non_negative"), type_="check")
        batch.alter_column("earnings_balance", type_=sa.Integer(), existing_type=sa.BigInteger())
    with op.batch_alter_table("consumers") as batch:
        batch.drop_constraint(op.f("ck_consumers_credits_held_non_negative"), type_="check")
        batch.drop_constraint(op.f("ck_consumers_credits_balance_non_negative"), type_="check")
        batch.drop_column("credits_held")
        batch.alter_column("credits_balance", type_=sa.Integer(), existing_type=sa.BigInteger())
