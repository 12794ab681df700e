"""Requests carrying values no backend can store, and the answer each must get.

Shared by the memory run (``test_boundary.py``) and the SQLite / PostgreSQL run
(``test_boundary_sql.py``): PostgreSQL is where such values used to end as 503s.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass

import jwt as pyjwt

from adapters.auth.jwt import mint_token
from tarsify.ports.identity import Audience

from .support import JWT_SECRET, World

RUN = "/api/marketplace/models/{slug}/run"
TARS = "/api/developer/tars-models"
NUL, LONE = "\\u0000", "\\ud800"  # as written in a JSON document


@dataclass(frozen=True)
class Case:
    """One request and the answer it must get."""

    name: str
    method: str
    path: str
    who: str | None
    body: str | None
    status: int
    code: str
    field: str | None = None


def _cursor(stamp: str) -> str:
    raw = json.dumps([stamp, str(uuid.uuid4())]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _base_model(endpoint_id: str, schema: str) -> str:
    return (
        f'{{"endpointId": "{endpoint_id}", "slug": "bad-schema", "name": "n", '
        f'"category": "IMAGE", "outputType": "IMAGE", "outputFormat": "png", '
        f'"inputSchema": {schema}}}'
    )


def cases(world: World) -> list[Case]:
    """Every case, on the seeded ``world``."""
    run = RUN.format(slug=world.slug)
    tampered = _cursor("0001-01-01T00:00:00+23:59")
    schema_ref = '{"type": "object", "properties": {"p": {"$ref": "%s"}}}'
    return [
        Case(
            "nul in path slug",
            "GET",
            "/api/marketplace/models/a%00b",
            None,
            None,
            400,
            "ERR_2003",
            "slug",
        ),
        Case(
            "nul in run slug",
            "POST",
            RUN.format(slug="x%00"),
            "consumer_a",
            '{"inputs": {}}',
            400,
            "ERR_2003",
            "slug",
        ),
        Case(
            "nul in query",
            "GET",
            "/api/marketplace/models?category=%00",
            None,
            None,
            400,
            "ERR_2002",
            "category",
        ),
        Case(
            "nul in model query",
            "GET",
            "/api/consumer/executions?model=a%00",
            "consumer_a",
            None,
            400,
            "ERR_2002",
            "model",
        ),
        Case(
            "nul in prompt",
            "POST",
            run,
            "consumer_a",
            f'{{"inputs": {{"prompt": "a{NUL}b"}}}}',
            400,
            "ERR_2001",
            "inputs.prompt",
        ),
        Case(
            "surrogate in prompt",
            "POST",
            run,
            "consumer_a",
            f'{{"inputs": {{"prompt": "{LONE}"}}}}',
            400,
            "ERR_2001",
            "inputs.prompt",
        ),
        Case(
            "nul in input name",
            "POST",
            run,
            "consumer_a",
            f'{{"inputs": {{"p{NUL}": 1}}}}',
            400,
            "ERR_2001",
            "inputs.p\\x00",
        ),
        Case(
            "NaN input",
            "POST",
            run,
            "consumer_a",
            '{"inputs": {"prompt": "a", "width": NaN}}',
            400,
            "ERR_2001",
            "inputs.width",
        ),
        Case(
            "huge float input",
            "POST",
            run,
            "consumer_a",
            '{"inputs": {"prompt": "a", "seed": [1e999]}}',
            400,
            "ERR_2001",
            "inputs.seed.0",
        ),
        Case(
            "integer beyond float range input",
            "POST",
            run,
            "consumer_a",
            '{"inputs": {"prompt": "a", "seed": 1' + "0" * 400 + "}}",
            400,
            "ERR_2001",
            "inputs.seed",
        ),
        Case(
            "integer beyond float range default",
            "POST",
            TARS,
            "developer_x",
            f'{{"baseModelId": "{world.base_model_id}", "title": "t", '
            '"configOverrides": {"defaultInputs": {"width": -1' + "0" * 400 + "}}}",
            400,
            "ERR_2001",
            "configOverrides.defaultInputs.width",
        ),
        Case(
            "integer beyond float range bound",
            "POST",
            "/api/admin/base-models",
            "admin",
            _base_model(
                world.endpoint_id,
                '{"type": "object", "properties": {"w": {"type": "integer", "maximum": 1'
                + "0" * 400
                + "}}}",
            ),
            400,
            "ERR_2001",
            "inputSchema.properties.w.maximum",
        ),
        Case(
            "unicode digit in ref",
            "POST",
            "/api/admin/base-models",
            "admin",
            _base_model(
                world.endpoint_id,
                '{"type": "object", "allOf": [{}], '
                '"properties": {"p": {"$ref": "#/allOf/\u00b2"}}}',
            ),
            400,
            "ERR_2001",
            "inputSchema.properties.p.$ref",
        ),
        Case(
            "percent-encoded pointer ref",
            "POST",
            "/api/admin/base-models",
            "admin",
            _base_model(
                world.endpoint_id,
                '{"type": "object", "$defs": {"a": {"type": "string"}}, '
                '"properties": {"p": {"$ref": "#%2F$defs%2Fa"}}}',
            ),
            400,
            "ERR_2001",
            "inputSchema.properties.p.$ref",
        ),
        Case(
            "unicode digits in file expiry",
            "GET",
            "/files/a?expires=%C2%B2&sig=x",
            None,
            None,
            403,
            "ERR_1006",
            None,
        ),
        Case(
            "exp beyond float range",
            "GET",
            "/api/consumer/auth/me",
            "huge_exp",
            None,
            401,
            "ERR_1002",
            None,
        ),
        Case(
            "exp as a string",
            "GET",
            "/api/consumer/auth/me",
            "string_exp",
            None,
            401,
            "ERR_1002",
            None,
        ),
        Case(
            "nul in title",
            "POST",
            TARS,
            "developer_x",
            f'{{"baseModelId": "{world.base_model_id}", "title": "t{NUL}"}}',
            400,
            "ERR_2001",
            "title",
        ),
        Case(
            "Infinity default",
            "POST",
            TARS,
            "developer_x",
            f'{{"baseModelId": "{world.base_model_id}", "title": "t", '
            '"configOverrides": {"defaultInputs": {"width": Infinity}}}',
            400,
            "ERR_2001",
            "configOverrides.defaultInputs.width",
        ),
        Case(
            "nul in prefix",
            "PATCH",
            f"{TARS}/{world.model_id}",
            "developer_x",
            f'{{"configOverrides": {{"promptPrefix": "{NUL}"}}}}',
            400,
            "ERR_2001",
            "configOverrides.promptPrefix",
        ),
        Case(
            "nul in register name",
            "POST",
            "/api/consumer/auth/register",
            "consumer_new",
            f'{{"name": "n{NUL}"}}',
            400,
            "ERR_2001",
            "name",
        ),
        Case(
            "-Infinity in schema",
            "POST",
            "/api/admin/base-models",
            "admin",
            _base_model(
                world.endpoint_id,
                '{"type": "object", "properties": {"w": {"type": "number", "maximum": -Infinity}}}',
            ),
            400,
            "ERR_2001",
            "inputSchema.properties.w.maximum",
        ),
        Case(
            "nul in endpoint name",
            "PATCH",
            f"/api/admin/endpoints/{world.endpoint_id}",
            "admin",
            f'{{"name": "{NUL}"}}',
            400,
            "ERR_2001",
            "name",
        ),
        Case(
            "too deep",
            "POST",
            run,
            "consumer_a",
            '{"inputs": {"prompt": ' + "[" * 100 + "]" * 100 + "}}",
            400,
            "ERR_2001",
            None,
        ),
        Case(
            "self ref schema",
            "POST",
            "/api/admin/base-models",
            "admin",
            _base_model(world.endpoint_id, '{"type": "object", "$ref": "#"}'),
            400,
            "ERR_2001",
            "inputSchema.$ref",
        ),
        Case(
            "remote ref schema",
            "POST",
            "/api/admin/base-models",
            "admin",
            _base_model(world.endpoint_id, schema_ref % "http://127.0.0.1:9/s.json"),
            400,
            "ERR_2001",
            "inputSchema.properties.p.$ref",
        ),
        Case(
            "dangling ref schema",
            "PATCH",
            f"/api/admin/base-models/{world.base_model_id}",
            "admin",
            '{"inputSchema": %s}' % (schema_ref % "#/$defs/none"),
            400,
            "ERR_2001",
            "inputSchema.properties.p.$ref",
        ),
        Case(
            "tampered cursor, marketplace",
            "GET",
            f"/api/marketplace/models?cursor={tampered}",
            None,
            None,
            400,
            "ERR_2002",
            "cursor",
        ),
        Case(
            "tampered cursor, history",
            "GET",
            f"/api/consumer/executions?cursor={tampered}",
            "consumer_a",
            None,
            400,
            "ERR_2002",
            "cursor",
        ),
        Case(
            "tampered cursor, studio",
            "GET",
            f"{TARS}?cursor={_cursor('2025-01-01T00:00:00-12:00')}",
            "developer_x",
            None,
            400,
            "ERR_2002",
            "cursor",
        ),
        Case(
            "nul in token sub",
            "GET",
            "/api/consumer/auth/me",
            "nul_sub",
            None,
            401,
            "ERR_1002",
            "token.sub",
        ),
        Case(
            "register with nul sub",
            "POST",
            "/api/developer/auth/register",
            "nul_sub_dev",
            "{}",
            401,
            "ERR_1002",
            "token.sub",
        ),
        Case(
            "long token email",
            "POST",
            "/api/consumer/auth/register",
            "long_email",
            "{}",
            401,
            "ERR_1002",
            "token.email",
        ),
        Case(
            "surrogate token name",
            "POST",
            "/api/consumer/auth/register",
            "lone_name",
            "{}",
            401,
            "ERR_1002",
            "token.name",
        ),
        Case(
            "empty prompt, prefix",
            "POST",
            run,
            "consumer_a",
            '{"inputs": {"prompt": ""}}',
            422,
            "ERR_2005",
            "prompt",
        ),
    ]


def boundary_tokens() -> dict[str, str]:
    """Tokens whose claims cannot be stored, and one of a consumer not yet registered."""
    consumers, developers = Audience.CONSUMERS, Audience.DEVELOPERS
    return {
        "consumer_new": mint_token(JWT_SECRET, consumers, "cons-new", "new@example.com"),
        "nul_sub": mint_token(JWT_SECRET, consumers, "a\x00b", "n@example.com"),
        "nul_sub_dev": mint_token(JWT_SECRET, developers, "d\x00", "d@example.com"),
        "long_email": mint_token(JWT_SECRET, consumers, "c-long", "e" * 320 + "@x.io"),
        "lone_name": mint_token(JWT_SECRET, consumers, "c-lone", "l@x.io", "bad \ud800 name"),
        "huge_exp": _token_with_exp(10**400),
        "string_exp": _token_with_exp("4102444800"),
    }


def _token_with_exp(exp: object) -> str:
    """A validly signed consumer token whose ``exp`` is ``exp`` as given."""
    claims = {"sub": "cons-exp", "email": "x@example.com", "aud": Audience.CONSUMERS.value}
    return pyjwt.encode({**claims, "exp": exp}, JWT_SECRET, algorithm="HS256")
