"""The HS256 JWT verifier and the token minting helper."""

from __future__ import annotations

import time
from typing import Any

import jwt as pyjwt
import pytest

from adapters.auth.jwt import JwtVerifier, mint_token
from tarsify.domain.errors import InvalidToken
from tarsify.ports.identity import Audience

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
DEV, CON = Audience.DEVELOPERS, Audience.CONSUMERS


async def test_valid_token_gives_the_identity() -> None:
    token = mint_token(SECRET, DEV, "u1", "u1@example.com", "Una")
    identity = await JwtVerifier(SECRET).verify(token, DEV)
    assert (identity.uid, identity.email, identity.name) == ("u1", "u1@example.com", "Una")
    assert identity.audience == DEV.value and identity.claims["sub"] == "u1"


async def test_name_is_optional() -> None:
    token = mint_token(SECRET, CON, "u1", "u1@example.com")
    assert (await JwtVerifier(SECRET).verify(token, CON)).name is None


async def test_other_audience_is_refused() -> None:
    token = mint_token(SECRET, CON, "u1", "u1@example.com")
    with pytest.raises(InvalidToken):
        await JwtVerifier(SECRET).verify(token, DEV)


async def test_a_token_listing_both_audiences_is_refused() -> None:
    claims = {
        "sub": "u",
        "email": "e@x.io",
        "aud": [CON.value, DEV.value],
        "exp": int(time.time()) + 60,
    }
    token = pyjwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        await JwtVerifier(SECRET).verify(token, DEV)


@pytest.mark.parametrize("missing", ["exp", "email", "sub", "aud"])
async def test_required_claims(missing: str) -> None:
    claims = {"sub": "u", "email": "e@x.io", "aud": DEV.value, "exp": int(time.time()) + 60}
    del claims[missing]
    token = pyjwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        await JwtVerifier(SECRET).verify(token, DEV)


@pytest.mark.parametrize("bad", [{"sub": ""}, {"email": ""}, {"sub": 5}, {"name": 3}])
async def test_claim_types(bad: dict[str, object]) -> None:
    claims = {"sub": "u", "email": "e@x.io", "aud": DEV.value, "exp": int(time.time()) + 60}
    token = pyjwt.encode({**claims, **bad}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        await JwtVerifier(SECRET).verify(token, DEV)


async def test_expiry_with_30_seconds_leeway() -> None:
    now = time.time()
    verifier = JwtVerifier(SECRET)
    recent = mint_token(SECRET, DEV, "u", "e@x.io", ttl_s=-10, now=now)
    assert (await verifier.verify(recent, DEV)).uid == "u"
    old = mint_token(SECRET, DEV, "u", "e@x.io", ttl_s=-40, now=now)
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(old, DEV)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_only_hs256_with_the_right_secret() -> None:
    claims = {"sub": "u", "email": "e@x.io", "aud": DEV.value, "exp": int(time.time()) + 60}
    for token in (
        pyjwt.encode(claims, SECRET, algorithm="HS512"),
        pyjwt.encode(claims, "another-secret-that-is-long-enough-yes", algorithm="HS256"),
        pyjwt.encode(claims, None, algorithm="none"),
        "not-a-token",
        "",
        "a" * 10_000,
    ):
        with pytest.raises(InvalidToken):
            await JwtVerifier(SECRET).verify(token, DEV)


async def test_cache_is_bounded_and_honours_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    decodes = []
    real_decode = pyjwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        decodes.append(args[0])
        return real_decode(*args, **kwargs)

    monkeypatch.setattr("adapters.auth.jwt.pyjwt.decode", counting_decode)
    clock = [time.time()]
    verifier = JwtVerifier(SECRET, cache_size=2, clock=lambda: clock[0])
    tokens = [mint_token(SECRET, DEV, f"u{i}", "e@x.io", ttl_s=60) for i in range(3)]
    for token in tokens:
        await verifier.verify(token, DEV)
    await verifier.verify(tokens[2], DEV)
    assert len(decodes) == 3 and len(verifier._cache) == 2
    with pytest.raises(InvalidToken):
        await verifier.verify(tokens[2], CON)  # the cache is per audience
    clock[0] += 100  # past exp + leeway: the cached answer must not be reused
    await verifier.verify(tokens[2], DEV)
    assert len(decodes) == 5


@pytest.mark.parametrize(
    "times",
    [
        {"exp": 10**400},  # an integer no float holds
        {"exp": "9999999999"},  # a NumericDate is a number, not text
        {"exp": 253_402_300_800},  # past the year 9999
        {"exp": True},
        {"nbf": "0"},
        {"iat": 10**400},
    ],
)
async def test_time_claims_must_be_numbers_in_range(times: dict[str, Any]) -> None:
    claims = {"sub": "u", "email": "e@x.io", "aud": DEV.value, "exp": int(time.time()) + 60}
    token = pyjwt.encode({**claims, **times}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        await JwtVerifier(SECRET).verify(token, DEV)


async def test_an_infinite_exp_is_an_invalid_token() -> None:
    # JSON's 1e400 reads as infinity, which PyJWT's int() overflows on.
    header = pyjwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}')
    body = pyjwt.utils.base64url_encode(
        b'{"sub":"u","email":"e@x.io","aud":"%s","exp":1e400}' % DEV.value.encode()
    )
    signing_input = header + b"." + body
    signature = pyjwt.algorithms.HMACAlgorithm(pyjwt.algorithms.HMACAlgorithm.SHA256).sign(
        signing_input, SECRET.encode()
    )
    token = (signing_input + b"." + pyjwt.utils.base64url_encode(signature)).decode()
    with pytest.raises(InvalidToken):
        await JwtVerifier(SECRET).verify(token, DEV)


async def test_the_last_numeric_date_in_range_is_accepted() -> None:
    claims = {"sub": "u", "email": "e@x.io", "aud": DEV.value, "exp": 253_402_300_799}
    token = pyjwt.encode({**claims, "iat": 0, "nbf": 0.5}, SECRET, algorithm="HS256")
    assert (await JwtVerifier(SECRET).verify(token, DEV)).uid == "u"
