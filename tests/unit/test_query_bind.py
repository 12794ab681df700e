"""``Query.bind``: the positional arguments of a statement compiled once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import asyncpg

from adapters.sql.query import Query
from adapters.sql.tables import tars_models
from tarsify.domain.models import TarsModelStatus

DIALECT = asyncpg.dialect()


def test_values_come_in_the_statements_order_through_their_processors() -> None:
    query = Query(
        select(tars_models.c.id).where(
            tars_models.c.slug == bindparam("p_slug"),
            tars_models.c.status == TarsModelStatus.PUBLISHED,  # a value the statement holds
            tars_models.c.id == bindparam("p_id", type_=tars_models.c.id.type),
        )
    )
    ident = uuid.uuid4()
    sql, arguments = query.bind(DIALECT, {"p_id": ident, "p_slug": "a-model"})
    assert sql.index("$1") < sql.index("$2") < sql.index("$3")
    assert arguments[0] == "a-model"
    assert arguments[1] == "PUBLISHED"
    assert str(arguments[2]) == str(ident)
    again_sql, again = query.bind(DIALECT, {"p_id": ident, "p_slug": "other"})
    assert again_sql == sql and again[0] == "other"


def test_a_missing_value_is_refused() -> None:
    query = Query(select(tars_models.c.id).where(tars_models.c.slug == bindparam("p_slug")))
    with pytest.raises(KeyError, match="p_slug"):
        query.bind(DIALECT, {})


def test_expanding_parameters_are_refused() -> None:
    query = Query(select(tars_models.c.id).where(tars_models.c.slug.in_(["a", "b"])))
    with pytest.raises(ValueError, match="expanding"):
        query.bind(DIALECT, {})
