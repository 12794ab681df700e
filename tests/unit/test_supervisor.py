"""The supervisor of ``serve --workers N`` stays a bare interpreter: standard library only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from entrypoints.process import supervisor

ALLOWED = {"__future__", "os", "signal", "sys"}


def test_the_supervisor_imports_only_os_signal_and_sys() -> None:
    tree = ast.parse(Path(supervisor.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= ALLOWED, imported - ALLOWED


def test_it_runs_without_site_packages_and_checks_its_arguments() -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-S", supervisor.__file__, sys.executable, "two"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == supervisor.USAGE


def test_each_worker_gets_its_own_background_switches() -> None:
    base = {"reconciler_enabled": "true", "Webhook_Delivery_Enabled": "true", "PORT": "8000"}
    assert supervisor.worker_env(base, reconciler=False) == {
        "PORT": "8000",
        "RECONCILER_ENABLED": "false",
        "WEBHOOK_DELIVERY_ENABLED": "false",
    }
    assert supervisor.worker_env(base, reconciler=True)["RECONCILER_ENABLED"] == "true"


def test_a_worker_that_serves_only_the_api_never_imports_jinja2() -> None:
    """The pages' template engine is loaded on the first page, not by every worker."""
    script = (
        "import sys\n"
        "import entrypoints.process.http_worker\n"
        "from entrypoints.config import Settings\n"
        "from entrypoints.container import build_container\n"
        "from entrypoints.http.app import create_app\n"
        "create_app(build_container(Settings.from_variables(DATABASE_URL='memory://')))\n"
        "print('jinja2' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(supervisor.__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
