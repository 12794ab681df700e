"""Statements compiled once per process, run on the asyncpg driver connection directly."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Dialect, Select, UpdateBase

_REQUIRED = object()  # a bound parameter with no value of its own


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
        self._plan: tuple[str, tuple[tuple[str, Any, Any], ...]] | None = None

    def bind(self, dialect: Dialect, params: dict[str, Any]) -> tuple[str, list[Any]]:
        """The SQL text and positional arguments for ``params`` (a parameter the statement
        gives a value itself, such as a literal in a condition, may be left out)."""
        plan = self._plan
        if plan is None:
            plan = self._plan = self._compile(dialect)
        sql, binds = plan
        arguments = []
        for name, process, default in binds:
            value = params.get(name, default)
            if value is _REQUIRED:
                raise KeyError(f"missing value for bound parameter {name!r}")
            arguments.append(value if process is None else process(value))
        return sql, arguments

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[tuple[str, Any, Any], ...]]:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.literal_execute_params or any(b.expanding for b in compiled.binds.values()):
            raise ValueError("Query cannot hold expanding or literal parameters")
        if compiled.escaped_bind_names:
            raise ValueError("Query needs bound parameter names that are plain identifiers")
        binds = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            default = _REQUIRED if bind.required or bind.callable else bind.value
            binds.append((name, process, default))
        return compiled.string, tuple(binds)
