"""Statements compiled once per process, run on the asyncpg driver connection directly."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Dialect, Select, UpdateBase


class Query:
    """A statement built once; on asyncpg it runs on the driver connection directly.

    SQLAlchemy compiles it once per process (SQL text, parameter order, bind processors);
    each run then only binds values and fetches, skipping the execution context and
    result processing, which cost more than the query on a small read. Rows come back as
    the driver's records (``Shape.load`` converts enum columns). Reads go to
    ``Db.fetch``; an INSERT or UPDATE to ``Db.write``. No expanding or literal parameters.
    """

    __slots__ = ("_plan", "statement")

    def __init__(self, statement: Select[Any] | UpdateBase) -> None:
        self.statement = statement
        self._plan: tuple[Any, str, tuple[tuple[str, Any], ...]] | None = None

    def bind(self, dialect: Dialect, params: dict[str, Any]) -> tuple[str, list[Any]]:
        """The SQL text and positional arguments for ``params``."""
        plan = self._plan
        if plan is None:
            plan = self._plan = self._compile(dialect)
        compiled, sql, binds = plan
        values = compiled.construct_params(params)
        return sql, [
            value if process is None else process(value)
            for value, process in ((values[name], process) for name, process in binds)
        ]

    def _compile(self, dialect: Dialect) -> tuple[Any, str, tuple[tuple[str, Any], ...]]:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.literal_execute_params or any(b.expanding for b in compiled.binds.values()):
            raise ValueError("Query cannot hold expanding or literal parameters")
        binds = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        )
        return compiled, compiled.string, binds
