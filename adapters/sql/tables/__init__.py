"""SQLAlchemy Core tables, one module per area; ``migrations/versions`` creates exactly
this schema. Importing the package registers every table in ``metadata``."""

from adapters.sql.tables.accounts import api_keys, consumers, developers
from adapters.sql.tables.catalog import base_models, runpod_endpoints, tars_models
from adapters.sql.tables.ledger import (
    LEDGER_ACCOUNT_RULE,
    LEDGER_SIGN_RULE,
    SETTLEMENT_PREDICATE,
    ledger_entries,
)
from adapters.sql.tables.runs import (
    ACTIVE_EXECUTION_PREDICATE,
    NON_TERMINAL_STATUSES,
    PAID_RUN_PREDICATE,
    TEST_RUN_PREDICATE,
    UNFINISHED_PREDICATE,
    execution_files,
    executions,
)
from adapters.sql.tables.schema import NAMING_CONVENTION, metadata, partial_index
from adapters.sql.tables.streams import stream_chunks, stream_readers
from adapters.sql.tables.uploads import uploads
from adapters.sql.tables.webhooks import (
    WEBHOOK_DUE_PREDICATE,
    execution_webhooks,
    webhook_deliveries,
    webhook_events,
    webhook_secrets,
)

__all__ = [
    "ACTIVE_EXECUTION_PREDICATE",
    "LEDGER_ACCOUNT_RULE",
    "LEDGER_SIGN_RULE",
    "NAMING_CONVENTION",
    "NON_TERMINAL_STATUSES",
    "PAID_RUN_PREDICATE",
    "SETTLEMENT_PREDICATE",
    "TEST_RUN_PREDICATE",
    "UNFINISHED_PREDICATE",
    "WEBHOOK_DUE_PREDICATE",
    "api_keys",
    "base_models",
    "consumers",
    "developers",
    "execution_files",
    "execution_webhooks",
    "executions",
    "ledger_entries",
    "metadata",
    "partial_index",
    "runpod_endpoints",
    "stream_chunks",
    "stream_readers",
    "tars_models",
    "uploads",
    "webhook_deliveries",
    "webhook_events",
    "webhook_secrets",
]
