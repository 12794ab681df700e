"""Start-up refusals: the public development secret never leaves this machine.

The built-in ``DEV_JWT_SECRET`` is in the repository, so anyone can mint a token with it
for any uid, an admin's included. It keeps ``tarsify serve`` working with no
configuration on a loopback address, and is refused everywhere else:

- ``serve`` on a non-loopback host with the development secret (or a short one) when
  ``AUTH_BACKEND=jwt``; ``serve --demo`` (or ``DEMO_SIGN_IN=true``) on a non-loopback host
  whatever the secret (it prints tokens, may make ``demo-admin`` an admin, and its web
  pages hand out the demo consumer's API keys);
- ``worker`` (it listens nowhere) with the development secret when the database is not
  embedded (SQLite or ``memory://``): a worker on a database server belongs to a
  deployment whose servers verify tokens with the same configuration.
"""

from __future__ import annotations

import ipaddress

from entrypoints.config import MIN_SECRET_BYTES, Settings

LOOPBACK_NAMES = frozenset({"localhost"})
EMBEDDED_DB_PREFIXES = ("sqlite", "memory://")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; an empty host means every interface."""
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def jwt_secret_problem(settings: Settings) -> str | None:
    """Why the JWT backend's secret is only fit for a developer's machine, or None."""
    if settings.auth.backend != "jwt":
        return None
    if settings.auth.uses_dev_jwt_secret:
        return "TARSIFY_JWT_SECRET is not set: the built-in development secret is public"
    # Settings already refuse short secrets at load; with_variables(...) does not
    # validate, so the rule is checked again here.
    if len(settings.auth.jwt_secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
        return f"TARSIFY_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def serve_refusal(settings: Settings, *, demo: bool) -> str | None:
    """Why ``tarsify serve`` must not start on ``settings.server.host``, or None."""
    host = settings.server.host
    if is_loopback(host):
        return None
    if demo or settings.auth.demo_sign_in:
        return (
            f"--demo serves only on a loopback address, not {host or 'every interface'}: "
            "its demo users and tokens are public (use HOST=127.0.0.1)"
        )
    problem = jwt_secret_problem(settings)
    if problem is None:
        return None
    return (
        f"{problem}; refusing to serve on {host or 'every interface'} "
        "(set TARSIFY_JWT_SECRET to 32+ random bytes, or HOST=127.0.0.1)"
    )


def worker_refusal(settings: Settings) -> str | None:
    """Why ``tarsify worker`` must not start, or None."""
    if settings.database.url.startswith(EMBEDDED_DB_PREFIXES):
        return None
    problem = jwt_secret_problem(settings)
    if problem is None:
        return None
    return (
        f"{problem}; refusing to run a worker on a database server "
        "(set TARSIFY_JWT_SECRET to 32+ random bytes, as for tarsify serve)"
    )
