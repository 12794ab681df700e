"""The Firebase verifier with an injected verification call (never the network)."""

from __future__ import annotations

from typing import Any

import firebase_admin
import pytest
from firebase_admin import auth as firebase_auth

from adapters.auth.firebase import FirebaseVerifier, IdentityProviderUnavailable
from tarsify.domain.errors import InvalidToken
from tarsify.ports.identity import Audience

CONSUMERS_PROJECT = "tarsify-consumers-test"
DEVELOPERS_PROJECT = "tarsify-developers-test"


class FakeFirebase:
    """Stands in for ``auth.verify_id_token``: tokens are ``project:uid[:email]``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.error: Exception | None = None

    def __call__(self, token: str, app: firebase_admin.App) -> dict[str, Any]:
        self.calls.append((token, app.project_id))
        if self.error is not None:
            raise self.error
        project, uid, *rest = token.split(":")
        if project != app.project_id:
            raise firebase_auth.InvalidIdTokenError("Firebase ID token has incorrect aud")
        claims: dict[str, Any] = {"aud": project, "sub": uid, "uid": uid, "name": "N"}
        if rest:
            claims["email"] = rest[0]
        return claims


@pytest.fixture
def fake() -> FakeFirebase:
    return FakeFirebase()


@pytest.fixture
def verifier(fake: FakeFirebase) -> FirebaseVerifier:
    return FirebaseVerifier(CONSUMERS_PROJECT, DEVELOPERS_PROJECT, verify_call=fake)


async def test_one_app_per_audience_project(verifier: FirebaseVerifier) -> None:
    assert verifier.app_for(Audience.CONSUMERS).project_id == CONSUMERS_PROJECT
    assert verifier.app_for(Audience.DEVELOPERS).project_id == DEVELOPERS_PROJECT
    again = FirebaseVerifier(CONSUMERS_PROJECT, DEVELOPERS_PROJECT, verify_call=FakeFirebase())
    assert again.app_for(Audience.CONSUMERS) is verifier.app_for(Audience.CONSUMERS)


async def test_valid_token(verifier: FirebaseVerifier, fake: FakeFirebase) -> None:
    identity = await verifier.verify(f"{DEVELOPERS_PROJECT}:u1:u1@x.io", Audience.DEVELOPERS)
    assert (identity.uid, identity.email, identity.name) == ("u1", "u1@x.io", "N")
    assert identity.audience == Audience.DEVELOPERS.value
    assert fake.calls == [(f"{DEVELOPERS_PROJECT}:u1:u1@x.io", DEVELOPERS_PROJECT)]


async def test_wrong_project_is_invalid(verifier: FirebaseVerifier) -> None:
    with pytest.raises(InvalidToken):
        await verifier.verify(f"{CONSUMERS_PROJECT}:u1:u1@x.io", Audience.DEVELOPERS)


async def test_claims_of_another_project_are_refused_even_if_the_call_accepts_them() -> None:
    def lenient(token: str, app: firebase_admin.App) -> dict[str, Any]:
        return {"aud": CONSUMERS_PROJECT, "sub": "u", "email": "e@x.io"}

    verifier = FirebaseVerifier(CONSUMERS_PROJECT, DEVELOPERS_PROJECT, verify_call=lenient)
    with pytest.raises(InvalidToken):
        await verifier.verify("anything", Audience.DEVELOPERS)


async def test_email_is_required(verifier: FirebaseVerifier) -> None:
    with pytest.raises(InvalidToken):
        await verifier.verify(f"{CONSUMERS_PROJECT}:u1", Audience.CONSUMERS)


@pytest.mark.parametrize(
    "error",
    [
        firebase_auth.ExpiredIdTokenError("expired", cause=None),
        firebase_auth.RevokedIdTokenError("revoked"),
        firebase_auth.InvalidIdTokenError("bad"),
        ValueError("empty"),
    ],
)
async def test_firebase_errors_become_invalid_token(
    verifier: FirebaseVerifier, fake: FakeFirebase, error: Exception
) -> None:
    fake.error = error
    with pytest.raises(InvalidToken):
        await verifier.verify("t", Audience.CONSUMERS)


async def test_key_fetch_failure_is_unavailable_not_invalid(
    verifier: FirebaseVerifier, fake: FakeFirebase
) -> None:
    fake.error = firebase_auth.CertificateFetchError("no network", cause=None)
    with pytest.raises(IdentityProviderUnavailable) as caught:
        await verifier.verify("t", Audience.CONSUMERS)
    assert caught.value.code == "ERR_5002"  # a 503, as the database's unavailability


async def test_empty_or_huge_tokens_never_reach_firebase(
    verifier: FirebaseVerifier, fake: FakeFirebase
) -> None:
    for token in ("", "x" * 9000):
        with pytest.raises(InvalidToken):
            await verifier.verify(token, Audience.CONSUMERS)
    assert fake.calls == []


def test_one_project_for_both_audiences_is_refused() -> None:
    with pytest.raises(ValueError):
        FirebaseVerifier(CONSUMERS_PROJECT, CONSUMERS_PROJECT, verify_call=FakeFirebase())
