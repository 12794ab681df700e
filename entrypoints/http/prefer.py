"""The ``Prefer`` request header (RFC 7240): only ``wait`` is acted on.

Preferences are hints. As RFC 7240 asks, ones this service does not know (``respond-async``,
``return=minimal``, ...) and ones with a value it cannot use (``wait=soon``, ``wait=-1``,
``wait=1.5``) are ignored rather than refused; the first ``wait`` counts when it appears
more than once. A wait above the limit is shortened to the limit, and
``Preference-Applied`` tells the client what was used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] ), comma-separated;
# a word is a token or a quoted-string. Parameters (after ";") are read and ignored.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_WORD = rf"(?:{_TOKEN}|{_QUOTED})"
_PARAMETERS = rf'(?:;(?:[^,"]|{_QUOTED})*)?'
_PREFERENCE = re.compile(rf"\s*({_TOKEN})(?:\s*=\s*({_WORD}))?\s*{_PARAMETERS}\s*(?:,|$)")
_DELTA_SECONDS = re.compile(r"^[0-9]+$")


def preferences(values: Iterable[str]) -> dict[str, str | None]:
    """Preference name (lowercase) -> value (unquoted; None without ``=``), first one
    winning, from every ``Prefer`` header; malformed pieces are skipped."""
    found: dict[str, str | None] = {}
    for header in values:
        position = 0
        while position < len(header):
            match = _PREFERENCE.match(header, position)
            if match is None or match.end() == position:
                # Skip to the next comma: one malformed preference spoils only itself.
                comma = header.find(",", position)
                position = len(header) if comma < 0 else comma + 1
                continue
            name, value = match.group(1).lower(), match.group(2)
            if value is not None and value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            found.setdefault(name, value)
            position = match.end()
    return found


def preferred_wait(values: Iterable[str], limit: int) -> int | None:
    """The ``wait`` preference in whole seconds, at most ``limit``; None when absent or
    not a number of seconds."""
    raw = preferences(values).get("wait")
    if raw is None or not _DELTA_SECONDS.fullmatch(raw.strip()):
        return None
    digits = raw.strip().lstrip("0") or "0"
    # A huge number means "as long as you allow" (RFC 9110 caps delta-seconds likewise).
    return limit if len(digits) > 9 else min(int(digits), limit)
