"""HS256 JWT identity verifier (the embedded default) and a helper that mints its tokens."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
from pydantic import SecretStr

from tarsify.domain.errors import InvalidToken
from tarsify.domain.models import Identity
from tarsify.ports.identity import Audience

ALGORITHM = "HS256"
LEEWAY_S = 30
MAX_TOKEN_CHARS = 8192
REQUIRED_CLAIMS = ("exp", "sub", "email", "aud")
TIME_CLAIMS = ("exp", "nbf", "iat")
# NumericDate claims beyond this (the year 9999) are refused: no real token needs them,
# and a float cannot hold every integer JSON allows (``10**400``).
MAX_NUMERIC_DATE = 253_402_300_799


def _secret_text(secret: str | SecretStr) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def mint_token(
    secret: str | SecretStr,
    audience: Audience | str,
    uid: str,
    email: str,
    name: str | None = None,
    ttl_s: int = 3600,
    *,
    now: float | None = None,
) -> str:
    """A signed token for ``uid`` on ``audience``, valid for ``ttl_s`` seconds."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": uid,
        "aud": str(audience),
        "email": email,
        "iat": issued,
        "exp": issued + ttl_s,
    }
    if name is not None:
        claims["name"] = name
    return pyjwt.encode(claims, _secret_text(secret), algorithm=ALGORITHM)


class JwtVerifier:
    """IdentityVerifier for HS256 tokens: audience, ``exp``, ``sub`` and ``email`` required.

    Verified tokens are kept in a small LRU until they expire, so a client sending the
    same token on every request pays for the HMAC and claim checks once.
    """

    def __init__(
        self,
        secret: str | SecretStr,
        *,
        leeway_s: int = LEEWAY_S,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = _secret_text(secret)
        self._leeway = leeway_s
        self._clock = clock
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], tuple[Identity, float]] = OrderedDict()

    async def verify(self, token: str, audience: Audience) -> Identity:
        """The identity behind ``token`` for ``audience``; raises ``InvalidToken``."""
        key = (audience.value, token)
        hit = self._cache.get(key)
        if hit is not None:
            identity, expires = hit
            if self._clock() < expires:
                self._cache.move_to_end(key)
                return identity
            del self._cache[key]
        identity, exp = self._decode(token, audience)
        self._remember(key, identity, exp + self._leeway)
        return identity

    def _decode(self, token: str, audience: Audience) -> tuple[Identity, float]:
        # A JWT is ASCII; anything else would fail in PyJWT's encoding, not its checks.
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise InvalidToken()
        try:
            claims = pyjwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=audience.value,
                leeway=self._leeway,
                # strict_aud: a token listing both audiences must not open both doors.
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
            )
        except pyjwt.ExpiredSignatureError as exc:
            raise InvalidToken("Token expired") from exc
        except pyjwt.InvalidAudienceError as exc:
            raise InvalidToken("Token is not valid for this audience") from exc
        except (pyjwt.PyJWTError, OverflowError) as exc:  # OverflowError: "exp": 1e400
            raise InvalidToken() from exc
        _check_time_claims(claims)
        return _identity(claims, audience), float(claims["exp"])

    def _remember(self, key: tuple[str, str], identity: Identity, expires: float) -> None:
        if self._cache_size <= 0:
            return
        self._cache[key] = (identity, expires)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _check_time_claims(claims: dict[str, Any]) -> None:
    """``exp``, ``nbf`` and ``iat``, when present, must be JSON numbers (RFC 7519
    NumericDate) within range; PyJWT alone takes ``"exp": "9999999999"`` and fails
    with an OverflowError on ``1e400`` or ``10**400``."""
    for claim in TIME_CLAIMS:
        if claim not in claims:
            continue
        value = claims[claim]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidToken(f"Token claim '{claim}' must be a number")
        if not (isinstance(value, int) or math.isfinite(value)) or abs(value) > MAX_NUMERIC_DATE:
            raise InvalidToken(f"Token claim '{claim}' is out of range")


def _identity(claims: dict[str, Any], audience: Audience) -> Identity:
    uid, email, name = claims.get("sub"), claims.get("email"), claims.get("name")
    if not isinstance(uid, str) or not uid.strip():
        raise InvalidToken("Token has no subject")
    if not isinstance(email, str) or not email.strip():
        raise InvalidToken("Token has no email")
    if name is not None and not isinstance(name, str):
        raise InvalidToken("Token name must be a string")
    return Identity(uid=uid, email=email, audience=audience.value, name=name, claims=claims)
