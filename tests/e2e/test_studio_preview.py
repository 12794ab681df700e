"""``POST /studio/preview`` (a web page route outside the API's table): the form of a
configuration, and bodies it cannot use refused with 400 in the error envelope, decoded
as the API's JSON bodies are, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .support import Api, World

PATH = "/studio/preview"


async def post(api: Api, raw: bytes, who: str = "developer_x") -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {api.tokens[who]}", "Content-Type": "application/json"}
    async with api.client.post(PATH, data=raw, headers=headers) as answer:
        return answer.status, answer.headers.get("Content-Type", ""), await answer.text()


def refusal(status: int, content_type: str, text: str) -> dict[str, Any]:
    """The error of a 400 envelope."""
    assert (status, content_type) == (400, "application/json"), text
    envelope = json.loads(text)
    assert envelope["success"] is False
    assert envelope["error"]["code"] == "ERR_2001"
    return envelope["error"]  # type: ignore[no-any-return]


async def test_a_configuration_previews_as_its_form(api: Api, world: World) -> None:
    body = {"baseModelId": world.base_model_id, "configOverrides": {"hiddenFields": ["width"]}}
    status, content_type, text = await post(api, json.dumps(body).encode())
    assert (status, content_type.split(";")[0]) == (200, "text/html"), text
    assert 'data-field="prompt"' in text
    assert 'data-field="width"' not in text


async def test_json_nested_deeper_than_the_recursion_limit_is_a_400(api: Api, world: World) -> None:
    error = refusal(*await post(api, b"[" * 60_000))
    assert error["details"] == [{"field": "$", "message": "nested deeper than 64"}]
    deep = {"baseModelId": world.base_model_id, "configOverrides": {}}
    raw = json.dumps(deep).encode().replace(b"{}", b'{"a":' * 100 + b"1" + b"}" * 100)
    error = refusal(*await post(api, raw))
    assert "nested deeper than 64" in [d["message"] for d in error["details"]]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (b'{"promptPrefix": "a\\u0000b"}', "NUL"),
        (b'{"promptPrefix": "\\ud800"}', "unpaired surrogates"),
        (b'{"defaultInputs": {"width": NaN}}', "finite number"),
        (b'{"defaultInputs": {"width": Infinity}}', "finite number"),
    ],
    ids=["nul", "lone-surrogate", "nan", "infinity"],
)
async def test_values_no_backend_can_store_are_a_400(
    api: Api, world: World, overrides: bytes, message: str
) -> None:
    raw = b'{"baseModelId": "%s", "configOverrides": %s}' % (
        world.base_model_id.encode(),
        overrides,
    )
    error = refusal(*await post(api, raw))
    assert [d for d in error["details"] if message in d["message"]], error


@pytest.mark.parametrize(
    "raw",
    [
        b'{"baseModelId": "\xff\xfe"}',
        b"\xff\xfe\x00{",
        b"{not json",
        b"[]",
        b'"text"',
        b'{"baseModelId": "not-a-uuid"}',
        b"",
    ],
    ids=["latin1", "not-utf8", "malformed", "list", "string", "bad-id", "empty"],
)
async def test_bodies_it_cannot_read_are_a_400(api: Api, world: World, raw: bytes) -> None:
    refusal(*await post(api, raw))


async def test_a_base_model_that_does_not_exist_is_a_404_envelope(api: Api, world: World) -> None:
    raw = json.dumps({"baseModelId": "00000000-0000-4000-8000-000000000000"}).encode()
    status, content_type, text = await post(api, raw)
    assert (status, content_type) == (404, "application/json"), text
    assert json.loads(text)["success"] is False
