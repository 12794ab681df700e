"""Small helpers shared by the use cases."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from tarsify.domain.errors import InvalidBody
from tarsify.ports.repositories import TarsModelRepository

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slugify(text: str, max_length: int = 200) -> str:
    """Lowercase ASCII words joined by hyphens (``"Hello, Wörld!"`` -> ``"hello-world"``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "model"


async def free_slug(models: TarsModelRepository, title: str, *, random_suffix: bool = False) -> str:
    """The first free slug of ``title``: ``title``, ``title-2``, ... (or a random suffix)."""
    base = slugify(title, max_length=190)
    if len(base) < 2:
        base = f"{base}-model".strip("-")
    if not random_suffix:
        candidate = base
        for n in range(2, 50):
            if await models.get_by_slug(candidate) is None:
                return candidate
            candidate = f"{base}-{n}"
    return f"{base}-{uuid.uuid4().hex[:8]}"


def check_slug(slug: str, field: str = "slug", max_length: int = 100) -> str:
    """Return ``slug`` if well formed (lowercase words and hyphens); raise ``InvalidBody``."""
    if not (2 <= len(slug) <= max_length) or not SLUG_RE.match(slug):
        raise InvalidBody(
            "Invalid slug",
            details=[
                {
                    "field": field,
                    "message": f"2-{max_length} characters: lowercase letters, digits and "
                    "single hyphens, not at either end",
                }
            ],
        )
    return slug


def apply_changes(entity: Any, changes: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Set the ``allowed`` attributes named in ``changes`` on ``entity``; others are refused."""
    allowed_set = set(allowed)
    unknown = [k for k in changes if k not in allowed_set]
    if unknown:
        raise InvalidBody(
            "Unknown fields",
            details=[{"field": k, "message": "cannot be changed"} for k in unknown],
        )
    for key, value in changes.items():
        setattr(entity, key, value)
