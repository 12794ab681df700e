"""A consumer's history: pages of ``ExecutionSummary``, read page first, then the model
of each row."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import Select, bindparam, select

from adapters.sql.db import Db
from adapters.sql.mapping import Shape, column_of, keyset_params, keyset_template
from adapters.sql.query import Query
from adapters.sql.tables import executions, tars_models
from tarsify.domain.execution import Execution
from tarsify.domain.execution_summary import NOT_LISTED, ExecutionSummary
from tarsify.domain.jsonsafe import LISTED_VALUE_MAX_BYTES
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import Cursor, Page, PageRequest, page_from_rows

# A list reads only what a summary holds (none of NOT_LISTED), with the slug and title of
# its model after the execution's columns. The input, output and logs go from the database to
# the answer as text, never decoded (JSONB's text on PostgreSQL), and only up to
# LISTED_VALUE_MAX_BYTES each: a larger one is sent as its size (``Omitted``), so a page
# holds at most that much of each row whatever it stores.
_LISTED = Shape(
    ExecutionSummary,
    executions,
    "x_",
    omit=[column_of(Execution, name) for name in NOT_LISTED],
    as_text=("consumer_input", "output_payload", "logs"),
    text_limit=LISTED_VALUE_MAX_BYTES,
    after=("model_slug", "model_title"),
)
_CONSUMER, _STATUS, _MODEL = "p_consumer", "p_status", "p_model"


@functools.cache
def _history_template(
    status: bool, model: bool, after: bool, limit: int, tests: bool = False
) -> Query:
    """The page of the consumer's executions first, then the model of each of its rows.

    Joining first let a plan made for the average consumer (fewer rows than a page) join
    a heavy consumer's whole history and sort it; the page alone can only be read from
    the consumer's index in page order, stopping after ``limit`` rows. With ``tests``:
    the model's test runs instead (no consumer; ``ix_executions_test_runs``).
    """
    owner = executions.c.consumer_id
    page = select(*_LISTED.read(), executions.c.tars_model_id).where(
        owner.is_(None) if tests else owner == bindparam(_CONSUMER)
    )
    if status:
        page = page.where(executions.c.status == bindparam(_STATUS))
    if model:
        page = page.where(executions.c.tars_model_id == bindparam(_MODEL))
    rows = keyset_template(
        page, executions.c.created_at, executions.c.id, after=after, limit=limit
    ).subquery("page")
    stmt = (
        select(*_LISTED.over(rows), tars_models.c.slug, tars_models.c.title)
        .join_from(rows, tars_models, tars_models.c.id == rows.c.tars_model_id)
        .order_by(rows.c.created_at.desc(), rows.c.id.desc())
    )
    return Query(stmt)


def _history(
    consumer_id: uuid.UUID,
    page: PageRequest,
    status: ExecutionStatus | None,
    tars_model_id: uuid.UUID | None,
) -> tuple[Query, dict[str, Any]]:
    stmt = _history_template(
        status is not None, tars_model_id is not None, page.after is not None, page.limit + 1
    )
    params = keyset_params(page) | {_CONSUMER: consumer_id}
    if status is not None:
        params[_STATUS] = status
    if tars_model_id is not None:
        params[_MODEL] = tars_model_id
    return stmt, params


def consumer_history_query(
    consumer_id: uuid.UUID,
    page: PageRequest,
    *,
    status: ExecutionStatus | None = None,
    tars_model_id: uuid.UUID | None = None,
) -> Select[Any]:
    """The statement behind ``history_page``, with its values bound (for EXPLAIN)."""
    query, params = _history(consumer_id, page, status, tars_model_id)
    return query.statement.params(params)


async def history_page(
    db: Db,
    consumer_id: uuid.UUID,
    page: PageRequest,
    status: ExecutionStatus | None,
    tars_model_id: uuid.UUID | None,
) -> Page[ExecutionSummary]:
    """The consumer's executions, newest created first, with model slug and title."""
    query, params = _history(consumer_id, page, status, tars_model_id)
    rows = await db.fetch(query, params)
    items = [_LISTED.load(row) for row in rows]
    return page_from_rows(items, page, lambda s: Cursor(s.created_at, s.id))


async def test_runs_page(
    db: Db, tars_model_id: uuid.UUID, page: PageRequest
) -> Page[ExecutionSummary]:
    """The model's test runs, newest created first, with its slug and title."""
    query = _history_template(False, True, page.after is not None, page.limit + 1, tests=True)
    rows = await db.fetch(query, keyset_params(page) | {_MODEL: tars_model_id})
    items = [_LISTED.load(row) for row in rows]
    return page_from_rows(items, page, lambda s: Cursor(s.created_at, s.id))
