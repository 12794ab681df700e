"""The core stays pure: no adapter, entrypoint or I/O framework imports under tarsify/."""

from __future__ import annotations

import ast
from pathlib import Path

import tarsify

FORBIDDEN = {
    "adapters",
    "entrypoints",
    "aiohttp",
    "sqlalchemy",
    "dependency_injector",
    "asyncpg",
    "aiosqlite",
    "alembic",
    "jwt",
    "firebase_admin",
    "structlog",
    "requests",
    "httpx",
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_no_framework_or_adapter() -> None:
    package = Path(tarsify.__file__).parent
    files = sorted(package.rglob("*.py"))
    assert len(files) > 10
    offenders = {str(f.relative_to(package)): sorted(imported_roots(f) & FORBIDDEN) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_scanner_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import aiohttp\nfrom sqlalchemy.orm import Session\nfrom adapters import x\n")
    assert imported_roots(bad) & FORBIDDEN == {"aiohttp", "sqlalchemy", "adapters"}
