"""Firebase ID-token verifier: one firebase-admin App per audience's Firebase project."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import firebase_admin
from firebase_admin import auth as firebase_auth
from firebase_admin import exceptions as firebase_exceptions
from google.auth.credentials import AnonymousCredentials

from tarsify.domain.errors import InvalidToken, TarsifyError
from tarsify.domain.models import Identity
from tarsify.ports.identity import Audience

log = logging.getLogger("tarsify.auth")

# (token, app) -> decoded claims; raises firebase_admin / ValueError on a bad token.
VerifyCall = Callable[[str, firebase_admin.App], dict[str, Any]]
MAX_TOKEN_CHARS = 8192


class IdentityProviderUnavailable(TarsifyError):
    """Google's signing keys could not be fetched; the token was not judged."""

    code, default_message = "ERR_5002", "Identity provider unavailable"


def _verify_with_firebase(token: str, app: firebase_admin.App) -> dict[str, Any]:
    claims: dict[str, Any] = firebase_auth.verify_id_token(token, app=app, check_revoked=False)
    return claims


def _app_for(project_id: str) -> firebase_admin.App:
    name = f"tarsify-{project_id}"
    try:
        return firebase_admin.get_app(name)
    except ValueError:
        # Verifying ID tokens needs only the project id and Google's public keys, never a
        # service account: anonymous credentials keep startup free of credential lookups.
        return firebase_admin.initialize_app(
            AnonymousCredentials(),  # type: ignore[no-untyped-call]
            options={"projectId": project_id},
            name=name,
        )


class FirebaseVerifier:
    """IdentityVerifier over firebase-admin; a token is checked against its audience's project.

    ``verify_call`` replaces ``firebase_admin.auth.verify_id_token`` (tests inject a fake so
    nothing reaches the network). Verification runs in a thread: firebase-admin is blocking.
    """

    def __init__(
        self,
        consumers_project_id: str,
        developers_project_id: str,
        *,
        verify_call: VerifyCall | None = None,
    ) -> None:
        if not consumers_project_id or not developers_project_id:
            raise ValueError("both Firebase project ids are required")
        if consumers_project_id == developers_project_id:
            # One project for both would let every token authenticate on both audiences.
            raise ValueError("consumers and developers need two different Firebase projects")
        self._apps: Mapping[Audience, firebase_admin.App] = {
            Audience.CONSUMERS: _app_for(consumers_project_id),
            Audience.DEVELOPERS: _app_for(developers_project_id),
        }
        self._verify = verify_call or _verify_with_firebase

    def app_for(self, audience: Audience) -> firebase_admin.App:
        """The firebase-admin App that verifies tokens of ``audience``."""
        return self._apps[audience]

    async def verify(self, token: str, audience: Audience) -> Identity:
        """The identity behind ``token`` for ``audience``; raises ``InvalidToken``."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken()
        app = self._apps[audience]
        try:
            claims = await asyncio.to_thread(self._verify, token, app)
        except firebase_auth.CertificateFetchError as exc:
            log.error("auth.certificate_fetch_failed", extra={"error": str(exc)})
            raise IdentityProviderUnavailable() from exc
        except firebase_auth.ExpiredIdTokenError as exc:
            raise InvalidToken("Token expired") from exc
        except (firebase_exceptions.FirebaseError, ValueError) as exc:
            # Wrong project (audience), bad signature, malformed, revoked or disabled user.
            raise InvalidToken() from exc
        return _identity(claims, audience, app.project_id)


def _identity(claims: Mapping[str, Any], audience: Audience, project_id: str) -> Identity:
    # firebase-admin already checks aud; checking again keeps a faulty injected call or a
    # misconfigured App from letting one audience's token through on the other's routes.
    if claims.get("aud") not in (None, project_id):
        raise InvalidToken("Token is not valid for this audience")
    uid = claims.get("uid") or claims.get("sub")
    email = claims.get("email")
    name = claims.get("name")
    if not isinstance(uid, str) or not uid:
        raise InvalidToken("Token has no subject")
    if not isinstance(email, str) or not email:
        raise InvalidToken("Token has no email")
    return Identity(
        uid=uid,
        email=email,
        audience=audience.value,
        name=name if isinstance(name, str) else None,
        claims=dict(claims),
    )
