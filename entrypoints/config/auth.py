"""Who may call: the identity provider's tokens, API key hashing, admins, the demo."""

from __future__ import annotations

import importlib.util
from typing import Literal

from pydantic import Field, SecretStr

from entrypoints.config.common import MIN_SECRET_BYTES, Group, short, split_csv
from tarsify.domain.api_keys import derive_pepper

DEV_JWT_SECRET = "dev-only-insecure-tarsify-jwt-secret-change-me"
MIN_PEPPER_CHARS = 32
FIREBASE_EXTRA_MISSING = (
    "AUTH_BACKEND=firebase needs the 'firebase' extra: pip install 'tarsify[firebase]' "
    "(or -e '.[firebase]' from a checkout)"
)


def firebase_installed() -> bool:
    """True when firebase-admin (the optional ``firebase`` extra) can be imported."""
    return importlib.util.find_spec("firebase_admin") is not None


class AuthConfig(Group):
    """AUTH_BACKEND, TARSIFY_JWT_SECRET, FIREBASE_CONSUMERS_PROJECT_ID,
    FIREBASE_DEVELOPERS_PROJECT_ID, ADMIN_UIDS, API_KEY_PEPPER, DEMO_SIGN_IN."""

    backend: Literal["jwt", "firebase"] = Field(default="jwt", validation_alias="AUTH_BACKEND")
    jwt_secret: SecretStr = Field(
        default=SecretStr(DEV_JWT_SECRET), validation_alias="TARSIFY_JWT_SECRET"
    )
    firebase_consumers_project_id: str | None = Field(
        default=None, validation_alias="FIREBASE_CONSUMERS_PROJECT_ID"
    )
    firebase_developers_project_id: str | None = Field(
        default=None, validation_alias="FIREBASE_DEVELOPERS_PROJECT_ID"
    )
    admin_uids: str = Field(default="", validation_alias="ADMIN_UIDS")
    api_key_pepper: SecretStr | None = Field(default=None, validation_alias="API_KEY_PEPPER")
    # Set by `serve --demo`: mounts the one-click demo sign-in of the web pages.
    demo_sign_in: bool = Field(default=False, validation_alias="DEMO_SIGN_IN")

    def problems(self) -> list[str]:
        problems: list[str] = []
        consumers = self.firebase_consumers_project_id
        developers = self.firebase_developers_project_id
        if self.backend == "firebase" and not (consumers and developers):
            problems.append(
                "FIREBASE_CONSUMERS_PROJECT_ID and FIREBASE_DEVELOPERS_PROJECT_ID are required "
                "when AUTH_BACKEND=firebase"
            )
        elif self.backend == "firebase" and consumers == developers:
            problems.append("the consumers' and developers' Firebase projects must differ")
        if self.backend == "firebase" and not firebase_installed():
            problems.append(FIREBASE_EXTRA_MISSING)
        if self.api_key_pepper is not None and (
            len(self.api_key_pepper.get_secret_value()) < MIN_PEPPER_CHARS
        ):
            problems.append(f"API_KEY_PEPPER must be at least {MIN_PEPPER_CHARS} characters")
        # A secret someone chose but made short is a mistake on any machine; only the
        # built-in development secret is tolerated, and only on loopback (security.py).
        if self.backend == "jwt" and short(self.jwt_secret):
            problems.append(f"TARSIFY_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        return problems

    @property
    def admin_uid_list(self) -> list[str]:
        """ADMIN_UIDS as a list."""
        return split_csv(self.admin_uids)

    @property
    def uses_dev_jwt_secret(self) -> bool:
        """True when the built-in development secret signs tokens."""
        return self.jwt_secret.get_secret_value() == DEV_JWT_SECRET

    @property
    def api_key_pepper_bytes(self) -> bytes:
        """The key of the API key hashes: API_KEY_PEPPER, or (when unset) a value derived
        from TARSIFY_JWT_SECRET under its own label. Changing it invalidates every key."""
        if self.api_key_pepper is not None:
            return self.api_key_pepper.get_secret_value().encode()
        return derive_pepper(self.jwt_secret.get_secret_value())
