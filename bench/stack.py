"""The system under test: a fresh database, the fake RunPod, the service and the floor app.

``with Stack(...) as stack:`` creates and migrates the database and starts every process;
leaving the block (normally, on an error or on Ctrl-C) stops them and drops the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType

import aiohttp
from sqlalchemy.engine import make_url

from adapters.sql.migrate import upgrade
from bench.dataset import ADMIN_UID
from bench.procs import ROOT, Managed, free_port, group_memory
from tests.pg import create_test_database, drop_test_database

API_KEY = "bench-runpod-key"
JWT_SECRET = "bench-secret-0123456789abcdef-0123456789abcdef"
ENDPOINTS = ("bench-text=TEXT", "bench-image=IMAGE")


@dataclass(slots=True)
class StackOptions:
    """How to run the service."""

    workers: int = 2
    # The tuned variant of earlier rounds: WARNING logs, the reconciler and webhook
    # delivery off, a status poll interval of ``poll_interval``, no active-runs limit.
    # False: the shipped defaults (``TUNED_SETTINGS`` not set).
    tuned: bool = False
    poll_interval: float = 1.0
    reconciler: bool = False  # the tuned variant only: run the reconciler anyway
    floor: bool = True
    # The ``tarsify`` executable to serve with; None: the one beside this interpreter.
    tarsify: Path | None = None
    # Serve through a PgBouncer in transaction pooling mode (DATABASE_POOLER=transaction).
    pgbouncer: bool = False


def _plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class Stack:
    """Database + processes of one benchmark run."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.url = ""
        self.dsn = ""
        self.log_dir = Path(tempfile.mkdtemp(prefix="tarsify-bench-"))
        self.fake_port = free_port()
        self.service_port = free_port()
        self.floor_port = free_port()
        self.fake: Managed | None = None
        self.service: Managed | None = None
        self.floor: Managed | None = None
        self._previous_sigterm: object = None
        self._bouncer: contextlib.ExitStack | None = None
        self.bouncer_port = 0

    @property
    def service_url(self) -> str:
        """Base URL of the service."""
        return f"http://127.0.0.1:{self.service_port}"

    @property
    def floor_url(self) -> str:
        """Base URL of the floor app."""
        return f"http://127.0.0.1:{self.floor_port}"

    def __enter__(self) -> Stack:
        # SIGTERM ends the run like Ctrl-C does: through __exit__.
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        self.url = asyncio.run(create_test_database())
        self.dsn = _plain_dsn(self.url)
        print(f"database {make_url(self.url).database}; logs in {self.log_dir}", flush=True)
        asyncio.run(upgrade(self.url))
        if self.options.pgbouncer:
            from tests.pgbouncer import pgbouncer

            self._bouncer = contextlib.ExitStack()
            # As many server connections as the service's processes would hold directly.
            self.bouncer_port = self._bouncer.enter_context(
                pgbouncer(pool_size=20 * self.options.workers)
            )
        python = sys.executable
        fake_argv = [python, "-m", "bench.fake_provider", "--port", str(self.fake_port)]
        fake_argv += ["--api-key", API_KEY]
        for endpoint in ENDPOINTS:
            fake_argv += ["--endpoint", endpoint]
        self.fake = Managed("fake-runpod", fake_argv, log_dir=self.log_dir)
        self.fake.wait_port(self.fake_port)
        self.service = Managed(
            "service",
            [
                str(self.options.tarsify or Path(python).with_name("tarsify")),
                "serve",
                "--workers",
                str(self.options.workers),
                "--no-migrate",
                "--port",
                str(self.service_port),
            ],
            env=self.service_env(),
            log_dir=self.log_dir,
        )
        self._wait_ready(self.service, self.service_port, "tarsify serving on")
        if self.options.floor:
            self.floor = Managed(
                "floor",
                [
                    *(python, "-m", "bench.floor_app", "--port", str(self.floor_port)),
                    *("--dsn", self.dsn, "--workers", str(self.options.workers)),
                ],
                log_dir=self.log_dir,
            )
            self._wait_ready(self.floor, self.floor_port, "floor serving on")

    def service_env(self) -> dict[str, str]:
        """The service's environment: what ``tarsify serve`` needs to run against the fake
        (database, provider and its credentials, a JWT secret, an admin for the setup),
        where its files go, and the tuned variant's settings when asked for."""
        pooled: dict[str, str] = {}
        if self.bouncer_port:
            from tests.pgbouncer import through

            pooled = {
                "DATABASE_URL": through(self.url, self.bouncer_port),
                "DATABASE_POOLER": "transaction",
                "DATABASE_DIRECT_URL": self.url,
            }
        return (
            {
                "DATABASE_URL": self.url,
                "GPU_PROVIDER": "runpod",
                "RUNPOD_BASE_URL": f"http://127.0.0.1:{self.fake_port}",
                "RUNPOD_API_KEY": API_KEY,
                "TARSIFY_JWT_SECRET": JWT_SECRET,
                "ADMIN_UIDS": ADMIN_UID,
                # The default store (filesystem), in this run's directory instead of ./data.
                "BLOB_FILESYSTEM_ROOT": str(self.log_dir / "files"),
                **self.changed_settings(),
            }
            | pooled
            | self._source()
        )

    def _source(self) -> dict[str, str]:
        """This checkout on the import path, unless another install is measured
        (``--tarsify``): its processes must run its own code, not this checkout's."""
        return {} if self.options.tarsify else {"PYTHONPATH": str(ROOT)}

    def changed_settings(self) -> dict[str, str]:
        """The settings this run changes from the shipped defaults (printed with the
        table): the per-address limit of the open routes (every load comes from one
        address; the limit is still counted on every request, never reached), and the
        tuned variant's when asked for."""
        shipped = {"ANON_RATE_LIMIT_PER_MINUTE": "1000000"}
        if not self.options.tuned:
            return shipped
        return shipped | {
            "LOG_LEVEL": "WARNING",
            "STATUS_POLL_MIN_INTERVAL": f"{self.options.poll_interval:g}",
            "RECONCILER_ENABLED": "true" if self.options.reconciler else "false",
            # The run load leaves its jobs queued (the reconciler is off) until the bench
            # finishes them before the next run load: at a high rate a consumer could
            # reach the default limit within one load and be answered 429 instead. The
            # limit is still counted on every run.
            "MAX_ACTIVE_EXECUTIONS": "1000000",
            # The same for the runs per consumer and minute.
            "RUN_RATE_LIMIT_PER_MINUTE": "1000000",
            "WEBHOOK_DELIVERY_ENABLED": "false",
        }

    def _wait_ready(self, proc: Managed, port: int, banner: str, timeout: float = 60) -> None:
        """Wait until every worker printed its banner (each binds the port itself)."""
        proc.wait_port(port, timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.log_path.read_text(errors="replace").count(banner) >= self.options.workers:
                return
            if not proc.alive():
                break
            time.sleep(0.1)
        raise RuntimeError(f"{proc.name} not ready; see {proc.log_path}")

    @property
    def database(self) -> str:
        """The benchmark database's name."""
        return str(make_url(self.url).database)

    def groups(self) -> dict[str, int]:
        """Process groups of the run, by name (``bench`` is this process and wrk)."""
        found = {"bench": os.getpgid(0)}
        for name, proc in (("service", self.service), ("floor", self.floor), ("fake", self.fake)):
            if proc is not None:
                found[name] = proc.pgid
        return found

    def service_memory_mib(self) -> tuple[float, float, int]:
        """(RSS, PSS) of the service in MiB, summed over its processes, and their count."""
        assert self.service is not None
        rss, pss, count = group_memory(self.service.pgid)
        return rss / 1024, pss / 1024, count

    async def fake_calls(self, route: str, contains: str = "") -> int:
        """How many ``route`` requests (path containing ``contains``) the fake received."""
        url = f"http://127.0.0.1:{self.fake_port}/_bench/calls"
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                url,
                params={"route": route, "contains": contains},
                headers={"Authorization": f"Bearer {API_KEY}"},
            ) as response,
        ):
            return int((await response.json())["calls"])

    def close(self) -> None:
        """Stop every process this stack started and drop its database."""
        for proc in (self.floor, self.service, self.fake):
            if proc is not None:
                try:
                    proc.stop()
                except Exception as exc:  # keep stopping the others
                    print(f"could not stop {proc.name}: {exc}", file=sys.stderr)
        self.floor = self.service = self.fake = None
        if self._bouncer is not None:
            self._bouncer.close()
            self._bouncer = None
        if self.url:
            url, self.url = self.url, ""
            try:
                asyncio.run(drop_test_database(url))
            except Exception as exc:
                print(f"could not drop {make_url(url).database}: {exc}", file=sys.stderr)
        if self._previous_sigterm is not None:
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(signal.SIGTERM, self._previous_sigterm)  # type: ignore[arg-type]
            self._previous_sigterm = None
