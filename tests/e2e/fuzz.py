"""Arbitrary requests at every route (Hypothesis strategies) and the app they are sent to.

Bodies are JSON documents written with NaN / Infinity tokens, NUL and unpaired surrogate
escapes and huge integers among ordinary values, shaped like each route's request model
often enough to get past it; path parameters are real ids or arbitrary text; every route
is called with a token of its audience. ``Harness`` runs the app on a store of its own, in
a loop of its own, so a plain (synchronous) Hypothesis test can drive it.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import strategies as st
from sqlalchemy import select

from adapters.sql.tables import metadata
from entrypoints.container import Container, build_container, resolve
from entrypoints.http.app import ROUTES, create_app
from entrypoints.http.routing import Auth, Route

from .boundary_cases import boundary_tokens
from .conftest import make_settings
from .support import CONFIG, IMAGE_SCHEMA, Api, Reply, World, seed, tokens

NASTY_TEXT = ["\x00", "a\x00b", "\ud800", "x\udfff", "\u2028", "", " ", "é", "a" * 300]
WHO = {
    Auth.NONE: [None],
    Auth.CONSUMER: ["consumer_a", "consumer_b", "consumer_new", "nul_sub", "long_email"],
    Auth.DEVELOPER: ["developer_x", "developer_y", "nul_sub_dev"],
    Auth.ADMIN: ["admin"],
}
ERROR_CODE = re.compile(r"ERR_\d{4}")

texts = st.one_of(
    st.text(
        st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12
    ),
    st.sampled_from(NASTY_TEXT),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


# Cursors that decode but were never issued: extreme offsets, naive, not UTC, odd ids.
STAMPS = ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2025-01-01T00:00:00"]
cursors = st.builds(
    lambda stamp, ident: base64.urlsafe_b64encode(json.dumps([stamp, ident]).encode()).decode(),
    st.sampled_from(STAMPS) | st.datetimes().map(lambda d: d.isoformat()),
    st.uuids().map(str) | texts,
)


def _plausible(world: World) -> dict[str, list[Any]]:
    """Values of each body field that get past the request model, to reach the use case."""
    return {
        "baseModelId": [world.base_model_id],
        "endpointId": [world.endpoint_id],
        "inputs": [{"prompt": "a cat"}, {"prompt": ""}, {}],
        "title": ["Fuzz Title"],
        "slug": ["fuzz-slug", world.slug],
        "name": ["Name"],
        "status": ["PUBLISHED", "DRAFT", "ARCHIVED"],
        "inputSchema": [IMAGE_SCHEMA, {"type": "object", "$ref": "#"}],
        "configOverrides": [CONFIG, {"defaultInputs": {"width": 300}}],
        "category": ["IMAGE"],
        "outputType": ["IMAGE"],
        "outputFormat": ["png"],
        "runpodEndpointId": ["rp-fuzz"],
        "gpuType": ["A100"],
    }


def _field_value(name: str, world: World) -> st.SearchStrategy[Any]:
    plausible = _plausible(world).get(name, [])
    if name == "inputs":
        nasty_inputs = st.dictionaries(
            st.sampled_from(["prompt", "width", "seed", "x"]), json_values
        )
        return st.one_of(st.sampled_from(plausible), nasty_inputs, json_values)
    if name == "configOverrides":
        keys = st.sampled_from(["defaultInputs", "lockedInputs", "hiddenFields", "promptPrefix"])
        return st.one_of(
            st.sampled_from(plausible), st.dictionaries(keys, json_values), json_values
        )
    return st.one_of(st.sampled_from(plausible), json_values) if plausible else json_values


def _encode(body: Any) -> bytes:
    # ensure_ascii writes unpaired surrogates and NUL as \\u escapes; allow_nan writes the
    # NaN / Infinity tokens Python's decoder accepts and JSON does not.
    return json.dumps(body, allow_nan=True, ensure_ascii=True).encode()


def bodies(route: Route, world: World) -> st.SearchStrategy[bytes | None]:
    """A body for ``route``: model-shaped with arbitrary values, any JSON, or raw bytes."""
    if route.request is None:
        return st.one_of(st.none(), st.just(b"{}"), json_values.map(_encode))
    names = [f.alias or n for n, f in route.request.model_fields.items()]
    shaped = st.fixed_dictionaries({}, optional={name: _field_value(name, world) for name in names})
    return st.one_of(
        shaped.map(_encode), json_values.map(_encode), st.binary(max_size=24), st.just(b"")
    )


def _quoted(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def path_values(name: str, world: World) -> st.SearchStrategy[str]:
    """A path parameter: a real id or slug, an unknown one, or arbitrary text."""
    real = {
        "id": [world.draft_id, world.endpoint_id, world.base_model_id, str(uuid.uuid4())],
        "slug": [world.slug],
    }.get(name, [])
    arbitrary = texts.filter(bool).map(_quoted)
    return st.one_of(st.sampled_from(real), arbitrary) if real else arbitrary


@dataclass(frozen=True)
class Call:
    """One request of the fuzz."""

    route: Route
    path: str
    who: str | None
    body: bytes | None
    headers: dict[str, str]


@st.composite
def calls(draw: st.DrawFn, world: World) -> Call:
    """Any route, with arbitrary path parameters, query, body and a token of its audience."""
    route = draw(st.sampled_from(ROUTES))
    path = route.path
    for name in re.findall(r"{(\w+)}", route.path):
        path = path.replace(f"{{{name}}}", draw(path_values(name, world)))
    query = {
        p.name: draw((cursors if p.name == "cursor" else st.nothing()) | texts.map(_quoted))
        for p in route.params
        if p.where == "query" and draw(st.booleans())
    }
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    headers = {"Content-Type": "application/json"}
    if any(p.name == "Idempotency-Key" for p in route.params) and draw(st.booleans()):
        headers["Idempotency-Key"] = draw(
            st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8)
        )
    return Call(
        route, path, draw(st.sampled_from(WHO[route.auth])), draw(bodies(route, world)), headers
    )


class Harness:
    """The app on ``database_url`` (migrated), seeded, with every test identity's token."""

    def __init__(self, database_url: str = "memory://") -> None:
        self.loop = asyncio.new_event_loop()
        self.container: Container = build_container(make_settings(database_url=database_url))
        self.client: TestClient = self.run(self._start())
        self.api = Api(self.client, {**tokens(), **boundary_tokens()})
        self.world: World = self.run(seed(self.api))
        self.seen: set[str] = set()

    async def _start(self) -> TestClient:
        client = TestClient(TestServer(create_app(self.container)))
        await client.start_server()
        return client

    def run(self, coro: Any) -> Any:
        """Run ``coro`` on the harness's loop."""
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        """Stop the app and its loop."""
        self.run(self.client.close())
        self.loop.close()

    async def snapshot(self) -> dict[str, Any]:
        """Every stored row, to show that a refused request changed nothing."""
        if self.container.settings().storage_backend == "memory":
            return copy.deepcopy(self.container.memory_store().tables)
        engine = await resolve(self.container.db_engine)
        rows: dict[str, Any] = {}
        async with engine.connect() as connection:
            for table in metadata.sorted_tables:
                result = await connection.execute(select(table))
                rows[table.name] = sorted(map(repr, result.all()))
        return rows

    def check(self, call: Call) -> None:
        """Send ``call``: never 5xx, errors in the envelope, nothing stored when refused."""
        self.seen.add(f"{call.route.method} {call.route.path}")
        before = self.run(self.snapshot())
        reply: Reply = self.run(
            self.api.call(
                call.route.method, call.path, call.who, data=call.body, headers=call.headers
            )
        )
        assert reply.status < 500, (call, reply.status, reply.text)
        if reply.status >= 400:
            assert isinstance(reply.body, dict) and reply.body.get("success") is False, reply.text
            error = reply.body["error"]
            assert ERROR_CODE.fullmatch(error["code"]) and isinstance(error["message"], str)
            assert self.run(self.snapshot()) == before, (call, reply.text)
