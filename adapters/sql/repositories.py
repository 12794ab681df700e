"""Every SQL repository, importable from one place."""

from adapters.sql.accounts import SqlConsumerRepository, SqlDeveloperRepository
from adapters.sql.api_keys import SqlApiKeyRepository
from adapters.sql.catalog import SqlBaseModelRepository, SqlEndpointRepository
from adapters.sql.executions import SqlExecutionRepository
from adapters.sql.studio import SqlTarsModelRepository

__all__ = [
    "SqlApiKeyRepository",
    "SqlBaseModelRepository",
    "SqlConsumerRepository",
    "SqlDeveloperRepository",
    "SqlEndpointRepository",
    "SqlExecutionRepository",
    "SqlTarsModelRepository",
]
