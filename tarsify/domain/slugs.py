"""Slugs: the names of base models and Tars models in URLs."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator

from tarsify.domain.errors import InvalidBody

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# How many numbered slugs of a title are tried (``title``, ``title-2``, ...).
NUMBERED_SLUGS = 48


def slugify(text: str, max_length: int) -> str:
    """Lowercase ASCII words joined by hyphens (``"Hello, Wörld!"`` -> ``"hello-world"``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "model"


def _title_slug(title: str) -> str:
    base = slugify(title, max_length=190)
    return f"{base}-model".strip("-") if len(base) < 2 else base


def slug_candidates(title: str) -> Iterator[str]:
    """The slugs generated for ``title``, in the order they are tried: ``title``, then
    ``title-2`` to ``title-48``."""
    base = _title_slug(title)
    yield base
    for n in range(2, NUMBERED_SLUGS + 1):
        yield f"{base}-{n}"


def random_slug(title: str) -> str:
    """A slug of ``title`` with a random suffix (when every numbered one is taken)."""
    return f"{_title_slug(title)}-{uuid.uuid4().hex[:8]}"


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
