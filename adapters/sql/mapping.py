"""Rows <-> domain dataclasses, and the keyset pagination clauses shared by queries."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Label, RowMapping, Select, Table, literal, tuple_

from tarsify.domain.models import Execution, GpuEndpoint
from tarsify.domain.pagination import PageRequest

E = TypeVar("E")
S = TypeVar("S", bound=Select[Any])

# Domain field -> column, where the provider-neutral name differs from the plan's column.
RENAMES: dict[type, dict[str, str]] = {
    GpuEndpoint: {"provider_endpoint_id": "runpod_endpoint_id"},
    Execution: {"provider_job_id": "runpod_job_id"},
}


def _column_of(cls: type, field: str) -> str:
    return RENAMES.get(cls, {}).get(field, field)


def to_values(entity: Any) -> dict[str, Any]:
    """Column values of an entity, keyed by column name."""
    cls = type(entity)
    return {_column_of(cls, f.name): getattr(entity, f.name) for f in dataclasses.fields(entity)}


def labelled(table: Table, prefix: str) -> list[Label[Any]]:
    """Every column of ``table`` labelled ``prefix + name``, for joined selects."""
    return [column.label(prefix + column.name) for column in table.columns]


def from_row(cls: type[E], row: RowMapping, prefix: str = "") -> E:
    """Build an entity from a row mapping whose keys may carry a label prefix."""
    values = {
        f.name: row[prefix + _column_of(cls, f.name)]
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    }
    return cls(**values)


def keyset_page(stmt: S, at: ColumnElement[Any], ident: ColumnElement[Any], page: PageRequest) -> S:
    """Newest-first page: rows strictly before the cursor, ``limit + 1`` of them.

    The row-value comparison is understood by PostgreSQL's btree (a single index
    condition on the composite index) and by SQLite >= 3.15.
    """
    if page.after is not None:
        stmt = stmt.where(
            tuple_(at, ident)
            < tuple_(literal(page.after.at, at.type), literal(page.after.id, ident.type))
        )
    return stmt.order_by(at.desc(), ident.desc()).limit(page.limit + 1)
