"""Mutation testing of the domain rules: how many small wrong versions do the tests catch?

A deliberately small AST mutation tool (no dependency, nothing to configure): for each
module given, every mutable spot is changed one at a time, the module is written into a
copy of the repository (the working tree is never touched, so it stays usable during a
run), and the unit tests that concern it run there (``pytest -x``). A mutant is *killed*
when the tests fail, *survives* when they pass.

Operators (the rules of money and lifecycles are written with them):

- comparisons: ``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``, ``is`` <->
  ``is not``, ``in`` <-> ``not in``;
- boolean operators: ``and`` <-> ``or``;
- ``not x`` -> ``x``;
- constants: ``True`` <-> ``False``, an integer ``n`` -> ``n + 1`` (``0`` -> ``1``,
  ``1`` -> ``2``, ``20`` -> ``21``), ``None`` is left alone.

Not mutated (equivalent by construction, or not behaviour): docstrings and other string
constants, type annotations, and the arguments of decorators (``@dataclass(slots=True,
frozen=True)``: flipping a dataclass flag changes no rule).

Usage (not part of CI: a run takes minutes)::

    .venv/bin/python -m bench.mutation                     # the three default modules
    .venv/bin/python -m bench.mutation tarsify/domain/credits.py --show-survivors

Results (kill rate per module) are in bench/README.md.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The unit tests that state the rules of each module (and the use cases built on them).
TESTS: dict[str, list[str]] = {
    "tarsify/domain/credits.py": [
        "tests/unit/test_credits_domain.py",
        "tests/unit/test_credits_engine.py",
        "tests/unit/test_listener_writes.py",
    ],
    "tarsify/domain/ledger_audit.py": [
        "tests/unit/test_credits_domain.py",
        "tests/unit/test_credits_engine.py",
    ],
    "tarsify/domain/execution.py": [
        "tests/unit/test_execution_aggregate.py",
        "tests/unit/test_execution_lifecycle.py",
        "tests/unit/test_execution_submit.py",
        "tests/unit/test_provider_callbacks.py",
        "tests/unit/test_stored_json.py",
        "tests/unit/test_policies_and_pages.py",
        "tests/unit/test_streams.py",
        "tests/unit/test_job_logs.py",
    ],
    "tarsify/domain/worker_logs.py": ["tests/unit/test_job_logs.py"],
    "tarsify/domain/tars_model.py": [
        "tests/unit/test_tars_model.py",
        "tests/unit/test_studio_catalog.py",
    ],
    "tarsify/domain/catalog.py": [
        "tests/unit/test_catalog_entities.py",
        "tests/unit/test_studio_catalog.py",
    ],
    "tarsify/domain/slugs.py": [
        "tests/unit/test_catalog_entities.py",
        "tests/unit/test_studio_catalog.py",
    ],
}
DEFAULT_MODULES = [
    "tarsify/domain/credits.py",
    "tarsify/domain/ledger_audit.py",
    "tarsify/domain/execution.py",
]
TIMEOUT_S = 120

_SWAP_CMP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One change: the node's position in the walk, and what it becomes."""

    index: int
    line: int
    description: str


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes never mutated: docstrings, annotations, decorator arguments."""
    skipped: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            skipped.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:
                skip(decorator)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            skip(node.returns)
            for arg in (*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs):
                skip(arg.annotation)
        if isinstance(node, ast.AnnAssign):
            skip(node.annotation)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip(node)  # docstrings and bare strings
    return skipped


def _mutations(node: ast.AST) -> Iterator[str]:
    """What can be done to ``node`` (descriptions; the index in this list is the choice)."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _SWAP_CMP:
                yield f"cmp{i}: {type(op).__name__} -> {_SWAP_CMP[type(op)].__name__}"
    elif isinstance(node, ast.BoolOp):
        yield "and -> or" if isinstance(node.op, ast.And) else "or -> and"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not x -> x"
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            yield f"{node.value} -> {not node.value}"
        elif isinstance(node.value, int):
            yield f"{node.value} -> {node.value + 1}"


def mutants(source: str) -> list[Mutant]:
    """Every mutant of a module's source, in walk order."""
    tree = ast.parse(source)
    skipped = _skipped_nodes(tree)
    found = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skipped:
            continue
        for description in _mutations(node):
            found.append(Mutant(index, getattr(node, "lineno", 0), description))
    return found


class _Apply(ast.NodeTransformer):
    def __init__(self, mutant: Mutant, order: dict[int, int]) -> None:
        self.mutant = mutant
        self.order = order  # id(node) of the pristine tree's copy -> walk index

    def generic_visit(self, node: ast.AST) -> ast.AST:
        result = super().generic_visit(node)
        if self.order.get(id(node)) != self.mutant.index:
            return result
        description = self.mutant.description
        if isinstance(node, ast.Compare):
            position = int(description[3 : description.index(":")])
            node.ops[position] = _SWAP_CMP[type(node.ops[position])]()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.Constant):
            value = node.value
            assert isinstance(value, int)  # bools are ints too
            node.value = (not value) if isinstance(value, bool) else value + 1
        return node


def mutated(source: str, mutant: Mutant) -> str:
    """The module's source with ``mutant`` applied."""
    tree = ast.parse(source)
    order = {id(node): index for index, node in enumerate(ast.walk(tree))}
    changed = _Apply(mutant, order).visit(tree)
    return ast.unparse(ast.fix_missing_locations(changed))


def _copy_of_repository() -> Path:
    """A copy of the sources and tests. ``python -m pytest`` run in it imports ``tarsify``
    from it: the current directory comes first on ``sys.path``, before the editable
    install's finder."""
    workdir = Path(tempfile.mkdtemp(prefix="tarsify-mutation-"))
    ignored = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", ".*_cache")
    shutil.copytree(ROOT, workdir, ignore=ignored, dirs_exist_ok=True)
    check = subprocess.run(
        [sys.executable, "-c", "import tarsify; print(tarsify.__file__)"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    if not check.stdout.startswith(str(workdir)):
        raise SystemExit(f"the copy does not shadow the installed package: {check.stdout}")
    return workdir


def _run_tests(workdir: Path, tests: list[str]) -> bool:
    """True when the tests pass (the mutant survives)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return False  # a mutant that hangs the tests is caught by them
    return done.returncode == 0


def test_module(workdir: Path, module: str, show_survivors: bool) -> tuple[int, int]:
    """(killed, total) for one module; its copy is restored afterwards."""
    path = workdir / module
    original = path.read_text()
    tests = TESTS.get(module, ["tests/unit"])
    if not _run_tests(workdir, tests):
        raise SystemExit(f"the tests of {module} fail without any mutant: fix them first")
    found = mutants(original)
    killed = 0
    started = time.perf_counter()
    try:
        for number, mutant in enumerate(found, 1):
            path.write_text(mutated(original, mutant))
            survived = _run_tests(workdir, tests)
            killed += not survived
            if survived and show_survivors:
                print(f"  survived {module}:{mutant.line} {mutant.description}", flush=True)
            if number % 20 == 0:
                print(f"  {module}: {number}/{len(found)}", file=sys.stderr, flush=True)
    finally:
        path.write_text(original)
    seconds = time.perf_counter() - started
    rate = 100 * killed / len(found) if found else 100.0
    print(f"{module}: {killed}/{len(found)} killed ({rate:.1f} %) in {seconds:.0f} s")
    return killed, len(found)


def main() -> None:
    """Run the modules given (default: credits, ledger_audit, execution)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", default=DEFAULT_MODULES)
    parser.add_argument("--show-survivors", action="store_true")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    args = parser.parse_args()
    if args.list:
        for module in args.modules:
            for mutant in mutants((ROOT / module).read_text()):
                print(f"{module}:{mutant.line} {mutant.description}")
        return
    total_killed = total = 0
    workdir = _copy_of_repository()
    try:
        for module in args.modules:
            killed, count = test_module(workdir, module, args.show_survivors)
            total_killed += killed
            total += count
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if total:
        print(f"all: {total_killed}/{total} killed ({100 * total_killed / total:.1f} %)")


if __name__ == "__main__":
    main()
