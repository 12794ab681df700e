"""``python -m entrypoints.cli``: the ``tarsify`` command."""

import sys

from entrypoints.cli.commands import main

sys.exit(main())
