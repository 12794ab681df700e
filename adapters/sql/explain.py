"""``EXPLAIN (ANALYZE, FORMAT JSON)`` of a SQLAlchemy statement, with its bound parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from sqlalchemy import ClauseElement, Executable
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler


class Explain(Executable, ClauseElement):
    """Wraps a statement so it runs as PostgreSQL ``EXPLAIN`` with the same binds."""

    inherit_cache = False

    def __init__(self, statement: Executable, *, analyze: bool = True) -> None:
        self.statement = statement
        self.analyze = analyze


@compiles(Explain, "postgresql")
def _compile_explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    options = "ANALYZE, BUFFERS, FORMAT JSON" if element.analyze else "FORMAT JSON"
    return f"EXPLAIN ({options}) " + compiler.process(cast(ClauseElement, element.statement), **kw)


async def explain(connection: AsyncConnection, statement: Executable) -> dict[str, Any]:
    """The JSON plan of ``statement`` (the top-level object with ``Plan``)."""
    result = await connection.execute(Explain(statement))
    document = result.scalar_one()
    plan: dict[str, Any] = document[0]
    return plan


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a JSON plan, depth first."""
    stack = [plan.get("Plan", plan)]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("Plans", []))


def scans_of(plan: dict[str, Any], relation: str) -> list[tuple[str, str | None]]:
    """(node type, index name) of every scan of ``relation`` in the plan."""
    return [
        (node["Node Type"], node.get("Index Name"))
        for node in plan_nodes(plan)
        if node.get("Relation Name") == relation
    ]
