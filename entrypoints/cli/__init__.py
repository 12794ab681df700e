"""The ``tarsify`` command line: ``serve``, ``worker``, ``migrate``, ``seed``, ``token``,
``check``, ``ledger check``, ``outputs offload`` (``commands.py`` parses and dispatches;
one module per command that does more than call a process role)."""

from entrypoints.cli.commands import main

__all__ = ["main"]
