"""``tarsify check``: is this configuration fit for production? Every problem is printed.

Each check returns findings; a ``problem`` makes the command exit 1. Checks only read:
nothing is created, migrated or sent to the GPU provider.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from entrypoints.config import Settings, config_problems
from entrypoints.process.preflight import directory_problem
from entrypoints.security import jwt_secret_problem

DB_TIMEOUT_S = 10.0
DEMO_ADMIN_UID = "demo-admin"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report."""

    verdict: Literal["ok", "problem", "skip"]
    text: str

    def line(self) -> str:
        """The finding as printed."""
        label = "PROBLEM" if self.verdict == "problem" else self.verdict
        return f"{label:8} {self.text}"


def _ok(text: str) -> Finding:
    return Finding("ok", text)


def _problem(text: str) -> Finding:
    return Finding("problem", text)


def check_identity(settings: Settings) -> list[Finding]:
    """The token secret (or the Firebase projects) and the webhook key."""
    found: list[Finding] = []
    if settings.auth.backend == "firebase":
        found.append(_ok("AUTH_BACKEND=firebase with two distinct projects"))
    else:
        problem = jwt_secret_problem(settings)
        found.append(_problem(problem) if problem else _ok("TARSIFY_JWT_SECRET is set"))
    if settings.server.public_base_url:
        source = "WEBHOOK_SECRET" if settings.webhooks.secret else "TARSIFY_JWT_SECRET"
        found.append(_ok(f"webhook URL tokens are keyed by {source}"))
    return found


def check_admins(settings: Settings) -> list[Finding]:
    """ADMIN_UIDS names somebody, and not the public demo user."""
    uids = settings.auth.admin_uid_list
    if not uids:
        return [_problem("ADMIN_UIDS is empty: nobody can manage endpoints and base models")]
    if DEMO_ADMIN_UID in uids:
        return [_problem(f"ADMIN_UIDS names {DEMO_ADMIN_UID}, the demo's public admin")]
    return [_ok(f"ADMIN_UIDS names {len(uids)} admin(s)")]


def check_provider(settings: Settings) -> list[Finding]:
    """Real GPU providers with their keys (the settings refuse real ones without any)."""
    if settings.gpu.simulated:
        return [_problem("GPU_PROVIDER=simulator: every output would be simulated")]
    keys = {"runpod": "RUNPOD_API_KEY", "fal": "FAL_KEY"}
    names = sorted(p.value for p in settings.gpu.configured_providers())
    with_keys = ", ".join(f"{name} ({keys[name]})" for name in names)
    return [_ok(f"GPU_PROVIDER={settings.gpu.provider}: real providers {with_keys}")]


def check_public_url(settings: Settings) -> list[Finding]:
    """PUBLIC_BASE_URL, when set, is https (RunPod sends results to it)."""
    url = settings.server.public_base_url
    if not url:
        return [_ok("PUBLIC_BASE_URL unset: webhooks off, results are fetched by polling")]
    if not url.startswith("https://"):
        return [_problem(f"PUBLIC_BASE_URL must be https, not {url}")]
    return [_ok(f"PUBLIC_BASE_URL is {url}")]


async def check_blob_store(settings: Settings) -> list[Finding]:
    """The file store keeps files, answers, and its links point where clients can reach."""
    if settings.files.store == "memory":
        return [_problem("BLOB_STORE=memory keeps no file across restarts")]
    if settings.files.store == "filesystem":
        found = []
        if not settings.server.public_base_url:
            found.append(
                _problem("file links would point at http://HOST:PORT: set PUBLIC_BASE_URL")
            )
            if settings.gpu.provider != "simulator":
                found.append(
                    _problem(
                        "GPU workers read uploaded input files from this service: set "
                        "PUBLIC_BASE_URL to an address they can reach"
                    )
                )
        return [*found, _filesystem_root(Path(settings.files.filesystem_root))]
    from entrypoints.container.files import open_blob_store
    from tarsify.domain.errors import TarsifyError

    try:
        async with asyncio.timeout(DB_TIMEOUT_S):
            async for store in open_blob_store(settings, None):
                await store.ping()
    except (TarsifyError, TimeoutError) as exc:
        return [_problem(f"the S3 file store fails: {getattr(exc, 'message', 'no answer')}")]
    return [_ok(f"the S3 file store answers (bucket {settings.files.s3_bucket})")]


def _filesystem_root(root: Path) -> Finding:
    """The root (or, before first use, the directory it will be made in) is writable;
    looked at, never created."""
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return _problem(f"the file store directory {root} cannot be written")
    if existing != root:
        return _ok(f"the file store directory {root} will be created on first use")
    # Tried as serve tries it (a temporary file, gone at once): permissions alone miss a
    # read-only mount, and say nothing for root.
    problem = directory_problem(
        root, create=False, what="the file store directory", setting="BLOB_FILESYSTEM_ROOT"
    )
    if problem is not None:
        return _problem(problem)
    return _ok(f"the file store directory {root} is writable")


async def check_database(settings: Settings) -> list[Finding]:
    """The database is durable, reachable and migrated to this code's head."""
    if settings.database.storage_backend == "memory":
        return [_problem("DATABASE_URL=memory:// keeps nothing across restarts")]
    from adapters.sql.migrate import current, head

    url = make_url(settings.database.url)
    # Connecting would create a missing SQLite file: look before connecting.
    if url.drivername.startswith("sqlite") and not _sqlite_file_exists(url.database):
        return [_problem(f"the SQLite file {url.database} does not exist: tarsify migrate")]
    try:
        at = await asyncio.wait_for(
            current(settings.database.url, pooled=settings.database.pooled), DB_TIMEOUT_S
        )
    except Exception as exc:  # drivers raise many types; the cause is what matters
        return [_problem(f"the database is unreachable: {type(exc).__name__}: {exc}")]
    wanted = head()
    if at != wanted:
        return [_problem(f"the database is at revision {at}, not {wanted}: tarsify migrate")]
    found = [_ok(f"the database answers and is at revision {at}")]
    found.append(await _endpoint_providers(settings))
    if settings.database.pooled:
        found.append(await _planner_setting(settings.database.url))
    return found


async def _endpoint_providers(settings: Settings) -> Finding:
    """Every active endpoint is on a provider this configuration can reach."""
    from sqlalchemy import text

    from adapters.sql.migrate import migration_engine

    engine = migration_engine(settings.database.url, pooled=settings.database.pooled)
    query = text(
        "SELECT provider, count(*) FROM runpod_endpoints WHERE is_active GROUP BY provider"
    )
    try:
        async with engine.connect() as connection:
            rows = await asyncio.wait_for(connection.execute(query), DB_TIMEOUT_S)
            counts = {str(provider): int(count) for provider, count in rows}
    except Exception as exc:  # drivers raise many types; the cause is what matters
        return _problem(f"the endpoints' providers could not be read: {type(exc).__name__}")
    finally:
        await engine.dispose()
    reachable = {p.value for p in settings.gpu.reachable_providers()}
    missing = {name: n for name, n in sorted(counts.items()) if name not in reachable}
    if missing:
        listed = ", ".join(f"{n} on {name}" for name, n in missing.items())
        return _problem(f"active endpoints on providers without credentials: {listed}")
    return _ok("every active endpoint is on a provider with credentials")


async def _planner_setting(url: str) -> Finding:
    """Through a transaction pooler the service cannot set ``enable_bitmapscan = off`` on
    its sessions: the database must (README, DATABASE_POOLER)."""
    from sqlalchemy import text

    from adapters.sql.migrate import migration_engine

    engine = migration_engine(url, pooled=True)
    try:
        async with engine.connect() as connection:
            value = await asyncio.wait_for(
                connection.scalar(text("SHOW enable_bitmapscan")), DB_TIMEOUT_S
            )
    except Exception as exc:  # drivers raise many types; the cause is what matters
        return _problem(f"enable_bitmapscan could not be read: {type(exc).__name__}")
    finally:
        await engine.dispose()
    if value != "off":
        name = make_url(url).database or "tarsify"
        return _problem(
            "enable_bitmapscan is on through the pooler: "
            f'ALTER DATABASE "{name}" SET enable_bitmapscan = off (history pages need it)'
        )
    return _ok("enable_bitmapscan is off on the database (sessions cannot set it pooled)")


# Ports of transaction poolers: PgBouncer's default, Supabase's transaction pooler.
POOLER_PORTS = (6432, 6543)
POOLER_HOST_WORDS = ("pgbouncer", "pooler")


def looks_pooled(url: str) -> bool:
    """Whether ``url`` looks like a transaction pooler's: port 6432 or 6543, or a host
    naming ``pgbouncer`` or ``pooler`` on any port but PostgreSQL's own 5432 (which such
    hosts use for session pooling, which needs nothing)."""
    try:
        parsed = make_url(url)
    except Exception:  # not a URL: the settings checks say so
        return False
    if not parsed.drivername.startswith("postgres"):
        return False
    port = parsed.port or 5432
    host = (parsed.host or "").lower()
    named = any(word in host for word in POOLER_HOST_WORDS)
    return port in POOLER_PORTS or (named and port != 5432)


def check_pooler(settings: Settings) -> list[Finding]:
    """A pooler's URL is declared as one, and LISTEN has a direct URL then."""
    if not settings.database.pooled:
        if looks_pooled(settings.database.url):
            return [
                _problem(
                    "DATABASE_URL looks like a transaction pooler's (port 6432 or 6543, or a "
                    "pgbouncer/pooler host): set DATABASE_POOLER=transaction"
                )
            ]
        return []
    direct = settings.database.direct_url
    if not direct:
        return [
            _problem(
                "DATABASE_POOLER=transaction without DATABASE_DIRECT_URL: event streams "
                "poll the database instead of listening"
            )
        ]
    if direct == settings.database.url or looks_pooled(direct):
        return [_problem("DATABASE_DIRECT_URL must bypass the pooler (LISTEN needs a session)")]
    return [_ok("DATABASE_POOLER=transaction; LISTEN over DATABASE_DIRECT_URL")]


async def check_redis(settings: Settings) -> list[Finding]:
    """REDIS_URL, when set, answers (the rate limits count there)."""
    if settings.rate_limits.redis_url is None:
        return [_ok("REDIS_URL unset: rate limits are counted per process")]
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(
        settings.rate_limits.redis_url,
        socket_timeout=DB_TIMEOUT_S / 5,
        socket_connect_timeout=DB_TIMEOUT_S / 5,
    )
    try:
        await asyncio.wait_for(client.ping(), DB_TIMEOUT_S)
    except Exception as exc:  # redis-py and socket errors; the cause is what matters
        return [
            _problem(
                f"REDIS_URL does not answer ({type(exc).__name__}): each process would "
                "count the rate limits on its own"
            )
        ]
    finally:
        await client.aclose()
    return [_ok("REDIS_URL answers: rate limits are shared by every process")]


def _sqlite_file_exists(path: str | None) -> bool:
    return bool(path) and path != ":memory:" and Path(path or "").is_file()


def _private_destinations(allowed: bool, setting: str, risk: str, fine: str) -> list[Finding]:
    if allowed:
        where = "its own network (loopback, private and metadata addresses)"
        return [_problem(f"{setting}=true: {risk} {where}")]
    return [_ok(fine)]


def check_webhook_destinations(settings: Settings) -> list[Finding]:
    """Consumers' webhooks cannot be aimed at the service's own network."""
    return _private_destinations(
        settings.webhooks.allow_private,
        "WEBHOOK_ALLOW_PRIVATE",
        "any consumer can make the service send requests into",
        "consumers' webhooks may only reach public addresses",
    )


def check_output_downloads(settings: Settings) -> list[Finding]:
    """GPU workers' output URLs cannot be aimed at the service's own network."""
    return _private_destinations(
        settings.files.download_allow_private,
        "OUTPUT_DOWNLOAD_ALLOW_PRIVATE",
        "a GPU worker's output can make the service read from",
        "output files are only downloaded from public addresses",
    )


SYNC_CHECKS: tuple[Callable[[Settings], list[Finding]], ...] = (
    check_identity,
    check_admins,
    check_provider,
    check_public_url,
    check_webhook_destinations,
    check_output_downloads,
    check_pooler,
)


async def findings(settings: Settings) -> list[Finding]:
    """Every finding about ``settings``."""
    found = [finding for check in SYNC_CHECKS for finding in check(settings)]
    found += await check_blob_store(settings) + await check_database(settings)
    return found + await check_redis(settings)


async def run_check() -> int:
    """``tarsify check``: print every finding; 0 when there is no problem, else 1."""
    try:
        settings = Settings()
    except ValidationError as exc:
        for problem in config_problems(exc):
            print(_problem(problem).line())
        print("the configuration is invalid; no command will start with it")
        return 1
    found = await findings(settings)
    for finding in found:
        print(finding.line())
    problems = sum(finding.verdict == "problem" for finding in found)
    if problems:
        print(f"{problems} problem(s): not ready for production")
        return 1
    print("ready for production")
    return 0
