"""RE2 (``google-re2``): patterns matched in time linear in the text, never backtracking.

RE2 has no backreferences or lookaround; a schema whose pattern needs them is refused
when it is saved (``schema_guard.pattern_problems``). Compiled patterns are kept (a
model's few patterns serve every run). The module itself is imported on the first
pattern, so a process whose schemas have none never loads it (~2.5 MiB).
"""

from __future__ import annotations

import functools
from typing import Any

# Memory RE2 may use per pattern (its default): a pattern needing more is refused.
MAX_PATTERN_CHARS = 1000


@functools.cache
def _re2() -> tuple[Any, Any]:
    """The ``re2`` module and its options, loaded once on first use."""
    import re2

    # No compile errors written to stderr: they are answered to the admin instead.
    options = re2.Options()
    options.log_errors = False
    return re2, options


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    re2, options = _re2()
    return re2.compile(pattern, options)


class Re2Patterns:
    """The ``PatternEngine`` the service uses."""

    def problem(self, pattern: str) -> str | None:
        """Why RE2 cannot compile ``pattern`` (backreferences, lookaround, ...)."""
        if len(pattern) > MAX_PATTERN_CHARS:
            return f"is longer than {MAX_PATTERN_CHARS} characters"
        try:
            _compiled(pattern)
        except (_re2()[0].error, TypeError, ValueError) as exc:
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            return f"is not supported by the linear-time regex engine (RE2): {reason}"
        return None

    def search(self, pattern: str, text: str) -> bool:
        """True when ``pattern`` matches somewhere in ``text``."""
        compiled = _compiled(pattern)
        try:
            return compiled.search(text) is not None
        except UnicodeEncodeError:  # a lone surrogate (request bodies never hold one)
            return compiled.search(text.encode("utf-8", "replace").decode()) is not None
