"""The supervisor of ``tarsify serve --workers N``: starts the workers, relays signals.

``tarsify serve`` migrates (and seeds) first, then replaces itself with this file run by
a bare interpreter (``exec python -I -S supervisor.py``), so the supervisor holds none of
the service: it imports only ``os``, ``signal`` and ``sys`` (``tests/unit/test_supervisor.py``
checks it) and costs what a bare interpreter costs. Each worker is a fresh interpreter
running ``entrypoints.process.http_worker``, which imports the service; they share the port
(SO_REUSEPORT).

SIGTERM or SIGINT stops the workers (each drains its requests) and then the supervisor.
A worker that ends on its own stops the others too, and the supervisor exits with its
status, so that a process manager restarts the whole service.
"""

from __future__ import annotations

import os
import signal
import sys

WORKER_MODULE = "entrypoints.process.http_worker"
# Set per worker in its environment: only one worker runs the background work (the
# reconciler and the webhook delivery).
RECONCILER_ENV = "RECONCILER_ENABLED"
BACKGROUND_ENVS = (RECONCILER_ENV, "WEBHOOK_DELIVERY_ENABLED")
USAGE = "usage: supervisor.py PYTHON WORKERS [--reconciler]"
# A directory ``tarsify serve`` made for this service's workers (their metrics): removed
# with its files when the supervisor ends.
OWNED_DIR_ENV = "TARSIFY_OWNED_METRICS_DIR"


def remove_owned_dir(env: dict[str, str]) -> None:
    """Remove the directory named by ``OWNED_DIR_ENV`` and the files in it, if any."""
    path = env.get(OWNED_DIR_ENV)
    if not path or not os.path.isdir(path):
        return
    for name in os.listdir(path):
        try:
            os.remove(os.path.join(path, name))
        except OSError:
            continue
    try:
        os.rmdir(path)
    except OSError:
        return


def worker_env(base: dict[str, str], *, reconciler: bool) -> dict[str, str]:
    """``base`` with the worker's own background switches (any spelling replaced)."""
    env = {k: v for k, v in base.items() if k.upper() not in BACKGROUND_ENVS}
    for name in BACKGROUND_ENVS:
        env[name] = "true" if reconciler else "false"
    return env


class Supervisor:
    """The workers' pids, and whether they are being stopped."""

    def __init__(self, python: str) -> None:
        self.python = python
        self.running: set[int] = set()
        self.stopping = False

    def stop(self, *_: object) -> None:
        """Ask every running worker to stop (SIGTERM: it drains its requests first)."""
        self.stopping = True
        for pid in self.running:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue  # it has just ended; os.wait() collects it

    def start(self, count: int, *, reconciler: bool) -> None:
        """Start ``count`` workers; the first runs the reconciler when ``reconciler``."""
        argv = [self.python, "-m", WORKER_MODULE]
        for i in range(count):
            env = worker_env(dict(os.environ), reconciler=reconciler and i == 0)
            self.running.add(os.posix_spawn(self.python, argv, env))

    def run(self, count: int, *, reconciler: bool) -> int:
        """Start the workers and wait for all of them; the first to end, or a signal,
        stops the others.

        Returns 0 when a signal to the supervisor stopped them, else the status of the
        worker that ended first (1 when a signal killed it, or it exited with 0).
        """
        # Handlers first: a signal during the start still stops whatever has started.
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.start(count, reconciler=reconciler)
        if self.stopping:
            self.stop()
        status = 0
        while self.running:
            try:
                pid, raw = os.wait()
            except ChildProcessError:
                break
            if pid not in self.running:
                continue
            self.running.discard(pid)
            if not self.stopping:
                code = os.waitstatus_to_exitcode(raw)
                status = code if code > 0 else 1
                self.stop()
        return status


def main(argv: list[str]) -> int:
    """``supervisor.py PYTHON WORKERS [--reconciler]``."""
    if len(argv) not in (2, 3) or not argv[1].isdigit() or argv[2:] not in ([], ["--reconciler"]):
        print(USAGE, file=sys.stderr)
        return 2
    supervisor = Supervisor(argv[0])
    try:
        return supervisor.run(max(1, int(argv[1])), reconciler=argv[2:] == ["--reconciler"])
    finally:
        remove_owned_dir(dict(os.environ))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
