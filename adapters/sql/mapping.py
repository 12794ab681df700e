"""Rows <-> domain dataclasses, and the keyset pagination clauses shared by queries.

Hot queries are built once, with bound parameters, and executed with a parameter dict:
the statement object, its labels and its cache key are then made once per process rather
than once per request. ``Shape`` reads an entity from a plain row by column position.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Collection, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Enum,
    Integer,
    Label,
    RowMapping,
    Select,
    Table,
    Text,
    bindparam,
    case,
    cast,
    literal,
    literal_column,
    null,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from tarsify.domain.execution import Execution
from tarsify.domain.jsonsafe import Omitted, StoredJson
from tarsify.domain.models import GpuEndpoint
from tarsify.domain.pagination import PageRequest

E = TypeVar("E")
S = TypeVar("S", bound=Select[Any])

# Domain field -> column, where the provider-neutral name differs from the plan's column.
RENAMES: dict[type, dict[str, str]] = {
    GpuEndpoint: {"provider_endpoint_id": "runpod_endpoint_id"},
    Execution: {
        "provider_job_id": "runpod_job_id",
        "provider_endpoint_id": "runpod_endpoint_id",
    },
}


def _column_of(cls: type, field: str) -> str:
    return RENAMES.get(cls, {}).get(field, field)


_COLUMNS_OF: dict[type, tuple[tuple[str, str], ...]] = {}


def _columns_of(cls: type) -> tuple[tuple[str, str], ...]:
    """(field, column) pairs of an entity class (memoised)."""
    pairs = _COLUMNS_OF.get(cls)
    if pairs is None:
        fields = dataclasses.fields(cls)
        pairs = _COLUMNS_OF[cls] = tuple((f.name, _column_of(cls, f.name)) for f in fields)
    return pairs


def column_of(cls: type, field: str) -> str:
    """The column that holds ``field`` of an entity class."""
    return _column_of(cls, field)


def to_values(entity: Any) -> dict[str, Any]:
    """Column values of an entity, keyed by column name."""
    return {column: getattr(entity, name) for name, column in _columns_of(type(entity))}


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


class Shape(Generic[E]):
    """Which columns of ``table`` build an entity, and how to build it from a row.

    ``columns`` go into a select (labelled ``prefix + name`` when a prefix is given);
    ``load(row, offset)`` builds the entity from the row's values at ``offset`` onwards.
    The columns in ``omit`` are not read: the select has NULL in their place, and the
    entity None. The JSON columns in ``as_text`` are read as the text the database writes
    of them (PostgreSQL only: JSONB's text is always valid JSON) and come as
    ``StoredJson``: what is only shown is then never decoded. With ``text_limit``, a
    text longer than that many bytes is not read: the database sends its size instead,
    and the entity holds ``Omitted(size)`` (what a page holds is then bounded in bytes).
    The fields named in ``after`` are not the table's: they are the row's values right
    after the table's columns, in that order (a joined table's columns).
    """

    def __init__(
        self,
        cls: type[E],
        table: Table,
        prefix: str = "",
        omit: Collection[str] = (),
        as_text: Collection[str] = (),
        text_limit: int | None = None,
        after: Sequence[str] = (),
    ) -> None:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        if not all(f.init and not f.kw_only for f in fields):
            raise TypeError(f"{cls.__name__} must take every field positionally")
        self.cls = cls
        self._table = table
        self._select = (prefix, frozenset(omit), frozenset(as_text), text_limit)
        self.columns: list[Any] = self.over(table)
        names = [column.name for column in table.columns]
        self.width = len(names)
        self._positions = tuple(
            self.width + after.index(f.name)
            if f.name in after
            else names.index(_column_of(cls, f.name))
            for f in fields
        )
        # Rows read through the driver carry enum columns as their text value.
        types = [table.columns[i].type if i < self.width else None for i in self._positions]
        # Each enum column's members by stored value (a dict lookup, not the enum call).
        self._enums = tuple(
            (at, {member.value: member for member in type_.enum_class})
            for at, type_ in enumerate(types)
            if isinstance(type_, Enum) and type_.enum_class is not None
        )
        self._picks: dict[int, Callable[[Sequence[Any]], tuple[Any, ...]]] = {}
        self._texts = tuple(
            at for at, i in enumerate(self._positions) if i < self.width and names[i] in as_text
        )

    def over(self, source: Any) -> list[Any]:
        """The select's columns taken from ``source``: the table, or a subquery of it that
        has every column this shape reads."""
        prefix, omit, as_text, limit = self._select
        return [
            null().label(prefix + column.name)
            if column.name in omit
            else _selected(source.c[column.name], prefix, column.name in as_text, limit)
            for column in self._table.columns
        ]

    def read(self) -> list[Any]:
        """The table's columns this shape reads (every one it does not omit)."""
        _, omit, _, _ = self._select
        return [column for column in self._table.columns if column.name not in omit]

    def load(self, row: Sequence[Any], offset: int = 0) -> E:
        """The entity held by ``row`` (processed or straight from the driver) from column
        ``offset`` on."""
        pick = self._picks.get(offset)
        if pick is None:
            pick = self._picks[offset] = operator.itemgetter(*(offset + i for i in self._positions))
        values = list(pick(row))
        for at, members in self._enums:
            value = values[at]
            if value is not None:
                values[at] = members[value]
        for at in self._texts:
            text = values[at]
            if text is not None:
                # JSON text never starts with "~": the mark of a size sent instead.
                values[at] = Omitted(int(text[1:])) if text[:1] == "~" else StoredJson(text)
        return self.cls(*values)


class _ByteLength(FunctionElement[int]):
    """Bytes of a text: ``octet_length`` on PostgreSQL (never a cast to bytea, which
    would read backslashes as escapes), the length of the text as a BLOB elsewhere."""

    type = Integer()
    inherit_cache = True
    name = "byte_length"


@compiles(_ByteLength, "postgresql")
def _octet_length(element: _ByteLength, compiler: Any, **kw: Any) -> str:
    return f"octet_length({compiler.process(element.clauses, **kw)})"


@compiles(_ByteLength)
def _blob_length(element: _ByteLength, compiler: Any, **kw: Any) -> str:
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


def _selected(column: Column[Any], prefix: str, as_text: bool, limit: int | None) -> Any:
    if as_text and limit is not None:
        text = cast(column, Text)
        size = _ByteLength(text)
        bounded = case((size <= limit, text), else_=literal("~") + cast(size, Text))
        return bounded.label(prefix + column.name)
    if as_text:
        return cast(column, Text).label(prefix + column.name)
    return column.label(prefix + column.name) if prefix else column


# Bound parameter names used by keyset templates.
AFTER_AT, AFTER_ID = "after_at", "after_id"


def keyset_template(
    stmt: S, at: ColumnElement[Any], ident: ColumnElement[Any], *, after: bool, limit: int
) -> S:
    """``keyset_page`` with the cursor as bound parameters (``keyset_params``).

    ``limit`` rows are written into the SQL: with ``LIMIT $n`` PostgreSQL cannot cost a
    generic plan for a prepared statement and plans every execution anew, which on a large
    table costs more than running the query.
    """
    if after:
        stmt = stmt.where(
            tuple_(at, ident)
            < tuple_(bindparam(AFTER_AT, type_=at.type), bindparam(AFTER_ID, type_=ident.type))
        )
    return stmt.order_by(at.desc(), ident.desc()).limit(literal_column(str(int(limit)), Integer()))


def keyset_params(page: PageRequest) -> dict[str, Any]:
    """Parameters of a ``keyset_template`` for ``page``."""
    if page.after is None:
        return {}
    return {AFTER_AT: page.after.at, AFTER_ID: page.after.id}


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
