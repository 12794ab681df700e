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
import socket
import struct
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
from entrypoints.http.server import make_runner

from .boundary_cases import boundary_tokens
from .conftest import make_settings
from .support import CONFIG, IMAGE_SCHEMA, Api, Reply, World, seed, tokens

# Unicode digits pass str.isdigit() and int() reads some of them ("١٢" is 12).
UNICODE_DIGITS = ["\u00b2", "\u0661\u0662", "\uff11\uff10", "\u0663"]
NASTY_TEXT = [
    "\x00", "a\x00b", "\ud800", "x\udfff", "\u2028", "", " ", "é", "a" * 300, *UNICODE_DIGITS
]  # fmt: skip
# Webhook destinations that wrap a loopback, private or metadata IPv4 address.
WRAPPED_ADDRESSES = [
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::]/latest",  # 6to4 of 169.254.169.254
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    "http://[64:ff9b::7f00:1]/",  # NAT64
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::7f00:1]:8080/",  # IPv4-compatible
]
# $ref pointers that read differently once percent-decoded, or name an index in
# Unicode digits.
ODD_REFS = [
    "#/allOf/²",
    "#/allOf/\u0661",
    "#%2F$defs%2Fa",
    "#%2f$defs/a",
    "#/$defs/a%2F",
    "#/allOf/01",
]
# Raw bodies with numbers no double holds (json.dumps never writes these).
HUGE_NUMBER_BODIES = [
    b'{"inputs": {"prompt": "a", "seed": 1e400}}',
    b'{"inputs": {"prompt": "a", "seed": -1' + b"0" * 400 + b"}}",
    b'{"configOverrides": {"defaultInputs": {"width": 1' + b"0" * 330 + b"}}}",
    b'{"inputSchema": {"type": "object", "properties": {"w": {"type": "integer", '
    b'"maximum": 1' + b"0" * 400 + b"}}}}",
    b'{"amount": 1' + b"0" * 5000 + b"}",
]
WHO = {
    Auth.NONE: [None],
    Auth.CONSUMER: [
        "consumer_a",
        "consumer_b",
        "consumer_new",
        "nul_sub",
        "long_email",
        "huge_exp",
        "string_exp",
    ],
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


def _schema_with_ref(ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "$defs": {"a": {"type": "string"}},
        "allOf": [{}, {}],
        "properties": {"prompt": {"$ref": ref}},
    }


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
        "inputSchema": [
            IMAGE_SCHEMA,
            {"type": "object", "$ref": "#"},
            *(_schema_with_ref(ref) for ref in ODD_REFS),
        ],
        "webhook": WRAPPED_ADDRESSES,
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
        shaped.map(_encode),
        json_values.map(_encode),
        st.binary(max_size=24),
        st.just(b""),
        st.sampled_from(HUGE_NUMBER_BODIES),
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


RESET_POINTS = ["line", "headers", "head", "body", "body", "all-but-one"]


class ServedLikeProduction(TestServer):
    """A test server on the runner ``tarsify serve`` uses: the handler of a client that
    left is not cancelled (aiohttp's test servers cancel it), so it sees the reset."""

    async def _make_runner(self, handler_cancellation: bool = False, **kwargs: Any) -> Any:
        return make_runner(self.app, **kwargs)


def raw_request(call: Call, token: str | None) -> bytes:
    """``call`` as the bytes of an HTTP/1.1 request."""
    lines = [f"{call.route.method} {call.path} HTTP/1.1", "Host: tarsify.test"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    lines += [f"{name}: {value}" for name, value in call.headers.items()]
    body = call.body or b""
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("utf-8", "surrogateescape") + body


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
        client = TestClient(ServedLikeProduction(create_app(self.container)))
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
        if self.container.settings().database.storage_backend == "memory":
            return copy.deepcopy(self.container.memory_store().tables)
        engine = await resolve(self.container.db_engine)
        rows: dict[str, Any] = {}
        async with engine.connect() as connection:
            for table in metadata.sorted_tables:
                result = await connection.execute(select(table))
                rows[table.name] = sorted(map(repr, result.all()))
        return rows

    def reset_early(self, call: Call, where: str, fraction: float) -> None:
        """Send ``call`` up to a point ``where`` (``line``, ``headers``, ``head``: all of
        them, ``body``, ``all-but-one`` byte), ``fraction`` of the way into that part,
        then reset the connection (RST)."""
        raw = raw_request(call, self.api.tokens.get(call.who) if call.who else None)
        line, head = raw.index(b"\r\n") + 2, raw.index(b"\r\n\r\n") + 4
        cut = {
            "line": int(line * fraction),
            "headers": line + int((head - line) * fraction),
            "head": head,
            "body": head + int((len(raw) - head) * fraction),
            "all-but-one": len(raw) - 1,
        }[where]
        self.seen.add(f"{call.route.method} {call.route.path}")
        self.run(self._reset_after(raw[: max(1, cut)]))

    async def _reset_after(self, prefix: bytes) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", self.client.port)
        writer.write(prefix)
        await writer.drain()
        # The server shares this loop: give it time to accept and read what was sent
        # (pacing only; an example it did not read yet just tests less).
        await asyncio.sleep(0.02)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def settled(self, connections: int) -> None:
        """Wait until the server holds at most ``connections`` connections again (a
        request whose body it does not read is drained for up to 10 s: aiohttp's
        lingering); at most 30 s."""
        server = self.client.server.runner.server  # type: ignore[union-attr]
        for _ in range(3000):
            if len(server.connections) <= connections:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the server kept reset connections open")

    def connections(self) -> int:
        """How many connections the server holds now."""
        return len(self.client.server.runner.server.connections)  # type: ignore[union-attr]

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
