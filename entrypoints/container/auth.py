"""Identity wiring: the Firebase verifier (an optional extra) and the API key hasher."""

from __future__ import annotations

from typing import TYPE_CHECKING

from entrypoints.config import FIREBASE_EXTRA_MISSING, Settings
from tarsify.domain.api_keys import KeyHasher

if TYPE_CHECKING:
    from adapters.auth.firebase import FirebaseVerifier


def firebase_verifier(settings: Settings) -> FirebaseVerifier:
    """The Firebase verifier for the two configured projects."""
    # Imported here: firebase-admin is an optional extra (with its Google stack it costs
    # ~10 MB per process and most of an install), which only AUTH_BACKEND=firebase needs.
    try:
        from adapters.auth.firebase import FirebaseVerifier
    except ImportError as exc:
        raise RuntimeError(FIREBASE_EXTRA_MISSING) from exc

    return FirebaseVerifier(
        settings.auth.firebase_consumers_project_id or "",
        settings.auth.firebase_developers_project_id or "",
    )


def key_hasher(settings: Settings) -> KeyHasher:
    """The hasher of API keys, keyed by the settings' pepper."""
    return KeyHasher(settings.auth.api_key_pepper_bytes)
