"""Small functions: none in the core (``tarsify/``) is longer than 50 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import tarsify

MAX_LINES = 50


def long_functions(root: Path) -> list[str]:
    """``path:line name (lines)`` of every function or method over ``MAX_LINES`` lines,
    decorators and docstring included."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = (node.end_lineno or node.lineno) - first + 1
                if lines > MAX_LINES:
                    found.append(f"{path}:{node.lineno} {node.name} ({lines})")
    return found


def test_no_function_in_the_core_is_over_50_lines() -> None:
    assert long_functions(Path(tarsify.__file__).parent) == []


def test_the_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "long.py").write_text(f"def too_long() -> None:\n{body}\n")
    (tmp_path / "short.py").write_text("def short() -> None:\n    pass\n")
    assert long_functions(tmp_path) == [f"{tmp_path / 'long.py'}:1 too_long ({MAX_LINES + 1})"]
