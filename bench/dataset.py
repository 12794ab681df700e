"""Benchmark data: the catalog, users and a few executions through the API; bulk rows by COPY.

Everything a consumer or developer would create by hand goes through the HTTP API (so the
rows are exactly what the service writes); the large tables (other consumers, execution
history, tens of thousands of published models) are loaded with PostgreSQL's COPY.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from adapters.auth.jwt import mint_token
from tarsify.domain.pagination import Cursor

CONSUMERS = "tarsify-consumers"
BULK_PREFIX = "bench-bulk"  # uids of the consumers loaded by COPY
DEVELOPERS = "tarsify-developers"
ADMIN_UID = "bench-admin"
HISTORY_START = datetime(2024, 1, 1, tzinfo=UTC)
TOKEN_TTL_S = 24 * 3600
COPY_CHUNK = 50_000

TEXT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1, "maxLength": 4000, "title": "Prompt"},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 256},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2, "default": 0.7},
        "system": {"type": "string", "maxLength": 2000},
    },
    "required": ["prompt"],
}
IMAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1, "maxLength": 2000},
        "negative_prompt": {"type": "string", "maxLength": 2000},
        "width": {"type": "integer", "enum": [512, 768, 1024], "default": 1024},
        "height": {"type": "integer", "enum": [512, 768, 1024], "default": 1024},
        "num_inference_steps": {"type": "integer", "minimum": 1, "maximum": 100},
        "seed": {"type": "integer", "minimum": 0},
    },
    "required": ["prompt"],
}
RUN_INPUTS: dict[str, Any] = {"prompt": "Summarise the plot of Hamlet in two sentences."}
IMAGE_INPUTS: dict[str, Any] = {"prompt": "A lighthouse at dusk, oil painting", "width": 512}
IMAGE_SLUG = "bench-image-0001"  # a published image model (odd numbers are images)

EXECUTION_COLUMNS = [
    "id", "consumer_id", "tars_model_id", "endpoint_id", "status", "runpod_job_id",
    "consumer_input", "input_payload", "output_payload", "error_code", "error_message",
    "created_at", "updated_at", "started_at", "completed_at", "execution_time_ms",
    "queue_time_ms", "deadline_at", "last_polled_at", "submit_attempts", "version",
]  # fmt: skip
TARS_COLUMNS = [
    "id", "developer_id", "base_model_id", "title", "slug", "description",
    "config_overrides", "status", "created_at", "updated_at", "published_at",
]  # fmt: skip


class ApiError(RuntimeError):
    """A setup request the service refused."""


@dataclass(slots=True)
class Catalog:
    """What setup created: ids, tokens and the model consumers run."""

    secret: str
    endpoint_ids: dict[str, uuid.UUID] = field(default_factory=dict)  # provider id -> row id
    base_model_ids: dict[str, uuid.UUID] = field(default_factory=dict)  # slug -> row id
    developer_id: uuid.UUID | None = None
    model_ids: dict[str, uuid.UUID] = field(default_factory=dict)  # slug -> row id
    model_endpoints: dict[str, uuid.UUID] = field(default_factory=dict)  # slug -> endpoint
    consumers: dict[str, uuid.UUID] = field(default_factory=dict)  # role -> row id
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token
    # Bearer tokens of the bulk consumers: the run load comes from many consumers.
    run_tokens: list[str] = field(default_factory=list)

    @property
    def run_slug(self) -> str:
        """The published text model the run scenarios use."""
        return "bench-text-0000"


class Api:
    """A small JSON client of the service for setup."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = base_url

    async def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        """The ``data`` of a successful answer; ``ApiError`` otherwise."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self._session.request(
            method, self._base + path, json=body, headers=headers
        ) as response:
            payload = await response.json(content_type=None)
            if response.status >= 300:
                raise ApiError(f"{method} {path} -> {response.status}: {payload}")
            return payload["data"]


def _token(secret: str, audience: str, uid: str) -> str:
    return mint_token(secret, audience, uid, f"{uid}@bench.test", uid, ttl_s=TOKEN_TTL_S)


async def create_catalog(base_url: str, secret: str, models: int) -> Catalog:
    """Endpoints, base models, one developer with ``models`` published models, consumers."""
    catalog = Catalog(secret)
    admin = _token(secret, DEVELOPERS, ADMIN_UID)
    developer = _token(secret, DEVELOPERS, "bench-developer")
    async with aiohttp.ClientSession() as session:
        api = Api(session, base_url)
        for kind, schema, category, fmt in (
            ("text", TEXT_SCHEMA, "TEXT", "txt"),
            ("image", IMAGE_SCHEMA, "IMAGE", "png"),
        ):
            endpoint = await api.call(
                "POST",
                "/api/admin/endpoints",
                admin,
                {"runpodEndpointId": f"bench-{kind}", "name": f"Bench {kind}", "gpuType": "A100"},
            )
            catalog.endpoint_ids[f"bench-{kind}"] = uuid.UUID(endpoint["id"])
            base = await api.call(
                "POST",
                "/api/admin/base-models",
                admin,
                {
                    "endpointId": endpoint["id"],
                    "slug": f"bench-{kind}-base",
                    "name": f"Bench {kind} base model",
                    "description": f"A {kind} model served by the benchmark's fake provider.",
                    "category": category,
                    "inputSchema": schema,
                    "outputType": category,
                    "outputFormat": fmt,
                    "estimatedSeconds": 5,
                },
            )
            catalog.base_model_ids[kind] = uuid.UUID(base["id"])
        me = await api.call(
            "POST", "/api/developer/auth/register", developer, {"name": "Bench Studio"}
        )
        catalog.developer_id = uuid.UUID(me["id"])
        gate = asyncio.Semaphore(8)

        async def publish(i: int) -> None:
            kind = "text" if i % 2 == 0 else "image"
            slug = f"bench-{kind}-{i:04d}"
            config: dict[str, Any] = (
                {"defaultInputs": {"seed": 42}}
                if kind == "image"
                else {
                    "defaultInputs": {"max_tokens": 512},
                    "promptPrefix": "You are a concise assistant. ",
                }
            )
            async with gate:
                made = await api.call(
                    "POST",
                    "/api/developer/tars-models",
                    developer,
                    {
                        "baseModelId": str(catalog.base_model_ids[kind]),
                        "title": f"Bench {kind} model {i}",
                        "slug": slug,
                        "description": f"Benchmark {kind} model number {i}.",
                        "configOverrides": config,
                    },
                )
                await api.call(
                    "PATCH", f"/api/developer/tars-models/{made['id']}", developer,
                    {"status": "PUBLISHED"},
                )  # fmt: skip
            catalog.model_ids[slug] = uuid.UUID(made["id"])
            catalog.model_endpoints[slug] = catalog.endpoint_ids[f"bench-{kind}"]

        # In index order so that bench-text-0000 is published first.
        await publish(0)
        await asyncio.gather(*(publish(i) for i in range(1, models)))
        for role in ("history", "run", "poll"):
            token = _token(secret, CONSUMERS, f"bench-{role}")
            me = await api.call(
                "POST", "/api/consumer/auth/register", token, {"name": f"Bench {role}"}
            )
            catalog.consumers[role] = uuid.UUID(me["id"])
            catalog.tokens[role] = token
    return catalog


async def run_once(
    base_url: str,
    catalog: Catalog,
    role: str,
    inputs: dict[str, Any],
    *,
    until: str | None,
    slug: str | None = None,
) -> str:
    """Run ``slug`` (the bench text model) as ``role``; wait (<= 15 s) for status ``until``
    when given."""
    token = catalog.tokens[role]
    async with aiohttp.ClientSession() as session:
        api = Api(session, base_url)
        made = await api.call(
            "POST",
            f"/api/marketplace/models/{slug or catalog.run_slug}/run",
            token,
            {"inputs": inputs},
        )
        if until is None:
            return str(made["id"])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while loop.time() < deadline:
            seen = await api.call("GET", f"/api/consumer/executions/{made['id']}", token)
            if seen["status"] == until:
                return str(made["id"])
            await asyncio.sleep(0.2)
    raise ApiError(f"execution {made['id']} did not reach {until}")


# --- bulk rows ---------------------------------------------------------------------------


def _execution_record(
    rng: random.Random,
    consumer_id: uuid.UUID,
    model_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    created: datetime,
) -> tuple[Any, ...]:
    ident = uuid.uuid4()
    prompt = f"Write a haiku about lighthouse number {rng.randrange(10_000)}"
    consumer_input = json.dumps({"prompt": prompt, "temperature": 0.5})
    payload = json.dumps({"prompt": "You are a concise assistant. " + prompt, "max_tokens": 512})
    roll = rng.random()
    started = created + timedelta(milliseconds=rng.randrange(200, 3000))
    queue_ms = int((started - created).total_seconds() * 1000)
    run_ms = rng.randrange(800, 9000)
    finished = started + timedelta(milliseconds=run_ms)
    if roll < 0.93:
        status, output, error = "COMPLETED", json.dumps({"text": f"[simulated] {prompt}"}), None
    elif roll < 0.97:
        status, output, error = "FAILED", None, ("PROVIDER_ERROR", "RuntimeError: CUDA OOM")
    else:
        status, output, error = "CANCELLED", None, None
    return (
        ident, consumer_id, model_id, endpoint_id, status, f"sim-{ident.hex}-u1",
        consumer_input, payload, output, error[0] if error else None, error[1] if error else None,
        created, finished, started, finished, run_ms, queue_ms,
        created + timedelta(minutes=20), finished, 1, 4,
    )  # fmt: skip


@dataclass(slots=True)
class History:
    """Keys (created_at, id) of one consumer's loaded executions, newest first."""

    keys: list[tuple[datetime, uuid.UUID]] = field(default_factory=list)

    def cursor(self, depth: int) -> str:
        """The encoded cursor after the ``depth``-th newest execution."""
        at, ident = self.keys[depth]
        return Cursor(at, ident).encode()


def execution_rows(
    catalog: Catalog,
    consumers: list[uuid.UUID],
    rows: int,
    *,
    measured: uuid.UUID | None = None,
    measured_rows: int = 0,
    start: datetime = HISTORY_START,
    seed: int = 7,
    history: History | None = None,
) -> Iterator[tuple[Any, ...]]:
    """``rows`` executions, ``measured_rows`` of them for ``measured``, spread over time."""
    rng = random.Random(seed)
    slugs = sorted(catalog.model_ids)
    step = max(1, rows // max(1, measured_rows)) if measured_rows else 0
    for i in range(rows):
        # Several executions share a second, as under load.
        created = start + timedelta(seconds=i // 3)
        mine = measured is not None and step and i % step == 0 and i // step < measured_rows
        consumer = measured if mine else rng.choice(consumers)
        slug = slugs[rng.randrange(len(slugs))]
        record = _execution_record(
            rng, consumer, catalog.model_ids[slug], catalog.model_endpoints[slug], created
        )
        if mine and history is not None:
            history.keys.append((created, record[0]))
        yield record


def consumer_tokens(secret: str, count: int, prefix: str = BULK_PREFIX) -> list[str]:
    """Bearer tokens of the first ``count`` consumers that ``consumer_rows`` made."""
    return [_token(secret, CONSUMERS, f"{prefix}-{i}") for i in range(count)]


def consumer_rows(count: int, prefix: str = BULK_PREFIX) -> list[tuple[Any, ...]]:
    """``count`` registered consumers."""
    now = HISTORY_START
    return [
        (uuid.uuid4(), f"{prefix}-{i}", f"{prefix}-{i}@bench.test", f"Consumer {i}", now, now)
        for i in range(count)
    ]


def tars_rows(
    catalog: Catalog, count: int, *, start: datetime, prefix: str = "bulk"
) -> Iterator[tuple[Any, ...]]:
    """``count`` published models alternating between the base models, older than ``start``."""
    kinds = sorted(catalog.base_model_ids)
    config = json.dumps({"defaultInputs": {"max_tokens": 512}, "promptPrefix": "Be brief. "})
    assert catalog.developer_id is not None
    for i in range(count):
        kind = kinds[i % len(kinds)]
        at = start - timedelta(seconds=i + 1)
        yield (
            uuid.uuid4(), catalog.developer_id, catalog.base_model_ids[kind],
            f"Bulk {kind} model {i}", f"{prefix}-{kind}-{i:06d}",
            f"A bulk-loaded {kind} model number {i}.", config, "PUBLISHED", at, at, at,
        )  # fmt: skip


async def copy_rows(
    dsn: str, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]] | list[Any]
) -> int:
    """COPY ``rows`` into ``table`` in chunks, then ANALYZE it; returns the row count."""
    connection = await asyncpg.connect(dsn)
    total = 0
    try:
        chunk: list[tuple[Any, ...]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= COPY_CHUNK:
                await connection.copy_records_to_table(table, records=chunk, columns=columns)
                total += len(chunk)
                chunk = []
        if chunk:
            await connection.copy_records_to_table(table, records=chunk, columns=columns)
            total += len(chunk)
        await connection.execute(f"ANALYZE {table}")
    finally:
        await connection.close()
    return total


CONSUMER_COLUMNS = ["id", "uid", "email", "name", "created_at", "updated_at"]
