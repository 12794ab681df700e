"""``python -m entrypoints.cli``: the ``tarsify`` command."""

import sys

from entrypoints.cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
