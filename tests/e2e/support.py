"""Helpers of the HTTP end-to-end tests: tokens, a recording client, a seeded catalog."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from adapters.auth.jwt import mint_token
from tarsify.ports.identity import Audience

JWT_SECRET = "e2e-test-secret-that-is-long-enough-for-hs256"
ADMIN_UID = "admin-uid"
PROVIDER_ENDPOINT_ID = "rp-secret-endpoint-7f3a"
IMAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "width": {"type": "integer", "minimum": 256, "maximum": 2048, "default": 1024},
        "steps": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
        "seed": {"type": "integer", "minimum": 0},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}
CONFIG: dict[str, Any] = {
    "defaultInputs": {"width": 512},
    "lockedInputs": {"steps": 30},
    "hiddenFields": ["seed"],
    "promptPrefix": "PFX-SECRET ",
    "promptSuffix": " SFX-SECRET",
}


def tokens() -> dict[str, str]:
    """A bearer token per test identity (anonymous has none)."""
    consumers, developers = Audience.CONSUMERS, Audience.DEVELOPERS
    return {
        "consumer_a": mint_token(JWT_SECRET, consumers, "cons-a", "a@example.com", "Alice"),
        "consumer_b": mint_token(JWT_SECRET, consumers, "cons-b", "b@example.com"),
        "developer_x": mint_token(JWT_SECRET, developers, "dev-x", "x@example.com", "Xavier"),
        "developer_y": mint_token(JWT_SECRET, developers, "dev-y", "y@example.com"),
        "admin": mint_token(JWT_SECRET, developers, ADMIN_UID, "admin@example.com"),
        "wrong_audience": mint_token(JWT_SECRET, "tarsify-others", "dev-x", "x@example.com"),
        "expired": mint_token(JWT_SECRET, consumers, "cons-a", "a@example.com", ttl_s=-120),
        "bad_signature": mint_token(
            "another-secret-that-is-long-enough-too", consumers, "cons-a", "a@example.com"
        ),
    }


@dataclass
class Reply:
    """A response: status, parsed JSON body, raw text and headers."""

    status: int
    body: Any
    text: str
    headers: CIMultiDict[str]

    @property
    def data(self) -> Any:
        """``data`` of a success envelope."""
        assert self.body["success"] is True, self.text
        return self.body["data"]

    @property
    def code(self) -> str:
        """``error.code`` of an error envelope."""
        assert self.body["success"] is False, self.text
        return str(self.body["error"]["code"])


@dataclass
class Api:
    """Calls the app as a named identity and records every answer."""

    client: TestClient
    tokens: dict[str, str]
    log: list[tuple[str, str, Reply]] = field(default_factory=list)

    async def call(
        self,
        method: str,
        path: str,
        who: str | None = None,
        json_body: Any = None,
        *,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send one request; ``who`` names the identity (None: anonymous)."""
        sent = dict(headers or {})
        if who is not None:
            sent["Authorization"] = f"Bearer {self.tokens[who]}"
        if json_body is not None:
            data = json.dumps(json_body)
            sent.setdefault("Content-Type", "application/json")
        async with self.client.request(method, path, data=data, headers=sent) as response:
            text = await response.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            reply = Reply(response.status, body, text, CIMultiDict(response.headers))
        self.log.append((method, path, reply))
        return reply

    async def ok(
        self,
        method: str,
        path: str,
        who: str | None = None,
        json_body: Any = None,
        status: int = 200,
        **kw: Any,
    ) -> Any:
        """Send and assert the status; returns ``data``."""
        reply = await self.call(method, path, who, json_body, **kw)
        assert reply.status == status, (method, path, reply.status, reply.text)
        return reply.data

    async def ok_raw(self, path: str) -> Any:
        """GET a non-enveloped JSON document."""
        reply = await self.call("GET", path)
        assert reply.status == 200, reply.text
        return reply.body


@dataclass
class World:
    """Ids of a seeded catalog: endpoint, base model, a published and a draft Tars model."""

    endpoint_id: str
    base_model_id: str
    model_id: str
    slug: str
    draft_id: str


def endpoint_body(provider_id: str = PROVIDER_ENDPOINT_ID, **extra: Any) -> dict[str, Any]:
    """A valid endpoint creation body."""
    return {"runpodEndpointId": provider_id, "name": "SDXL", "gpuType": "A100", **extra}


def base_model_body(endpoint_id: str, slug: str = "sdxl", **extra: Any) -> dict[str, Any]:
    """A valid base model creation body."""
    return {
        "endpointId": endpoint_id,
        "slug": slug,
        "name": "Stable Diffusion XL",
        "category": "IMAGE",
        "inputSchema": IMAGE_SCHEMA,
        "outputType": "IMAGE",
        "outputFormat": "png",
        "estimatedSeconds": 10,
        **extra,
    }


async def seed(api: Api, *, register: bool = True) -> World:
    """Admin catalog, developer X with a published and a draft model, registered users."""
    endpoint = await api.ok("POST", "/api/admin/endpoints", "admin", endpoint_body(), 201)
    base = await api.ok(
        "POST", "/api/admin/base-models", "admin", base_model_body(endpoint["id"]), 201
    )
    if register:
        for who in ("developer_x", "developer_y"):
            await api.ok("POST", "/api/developer/auth/register", who, {}, 201)
        for who in ("consumer_a", "consumer_b"):
            await api.ok("POST", "/api/consumer/auth/register", who, {}, 201)
    tars = await api.ok(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {"baseModelId": base["id"], "title": "Pixel Art", "configOverrides": CONFIG},
        201,
    )
    await api.ok(
        "PATCH", f"/api/developer/tars-models/{tars['id']}", "developer_x", {"status": "PUBLISHED"}
    )
    draft = await api.ok(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {"baseModelId": base["id"], "title": "Draft One"},
        201,
    )
    return World(endpoint["id"], base["id"], tars["id"], tars["slug"], draft["id"])


def random_id() -> str:
    """A UUID nobody owns."""
    return str(uuid.uuid4())
