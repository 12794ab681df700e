"""One HTTP worker of ``tarsify serve --workers N``, started by ``entrypoints.process.supervisor``.

Its settings come from the environment, where ``tarsify serve`` put the command line's
overrides (host, port, admin ids) and the supervisor this worker's reconciler switch.
Every worker binds the same port (SO_REUSEPORT).
"""

from __future__ import annotations

import asyncio
import sys

from pydantic import ValidationError

from entrypoints.config import Settings, config_problems, configure_logging
from entrypoints.process.serve import serve_process

EXIT_USAGE = 2


def main() -> int:
    """Serve until SIGTERM or SIGINT."""
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"tarsify: invalid configuration: {'; '.join(config_problems(exc))}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.logging.level, settings.logging.format)
    asyncio.run(serve_process(settings, demo=False, reuse_port=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
