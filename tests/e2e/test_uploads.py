"""Uploading files and using them as run inputs, on the memory store and the simulator."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from aiohttp import FormData

from entrypoints.config import Settings
from entrypoints.container import Container, resolve

from .conftest import make_settings
from .support import Api, endpoint_body
from .uploads_support import form, seed_stt, upload, wav_bytes

WAV = wav_bytes()
LIMIT = 200_000


@pytest.fixture
def settings() -> Settings:
    return make_settings(max_upload_bytes=LIMIT)


@pytest.fixture
async def slug(api: Api) -> str:
    return await seed_stt(api, endpoint_body())


async def blobs(container: Container) -> dict[str, Any]:
    store = await resolve(container.blob_store)
    return store.files  # type: ignore[no-any-return]


async def get(api: Api, url: str) -> tuple[int, bytes, str]:
    async with api.client.session.get(
        url.replace("http://tarsify.test", str(api.client.make_url("")).rstrip("/"))
    ) as answer:
        return answer.status, await answer.read(), answer.headers.get("Content-Type", "")


async def run(api: Api, slug: str, who: str, inputs: dict[str, Any]) -> Any:
    return await api.call(
        "POST", f"/api/marketplace/models/{slug}/run?wait=5", who, {"inputs": inputs}
    )


async def test_upload_answers_the_file_and_its_link_reads_the_bytes(api: Api, slug: str) -> None:
    status, body = await upload(api, "consumer_a", form(WAV))
    assert status == 201, body
    data = body["data"]
    assert data["name"] == "clip.wav"
    assert data["contentType"] == "audio/wav"
    assert data["size"] == len(WAV)
    assert data["sha256"] == hashlib.sha256(WAV).hexdigest()
    assert data["reference"] == f"tarsify://files/{data['id']}"
    assert data["expiresAt"] > data["createdAt"]
    got = await get(api, data["url"])
    assert got == (200, WAV, "audio/wav")


async def test_a_declared_type_the_bytes_do_not_have_is_refused(api: Api, slug: str) -> None:
    status, body = await upload(api, "consumer_a", form(WAV, "x.png", "image/png"))
    assert (status, body["error"]["code"]) == (400, "ERR_2001")
    status, body = await upload(api, "consumer_a", form(b"just text", "x.txt", "text/plain"))
    assert (status, body["data"]["contentType"]) == (201, "text/plain")
    status, body = await upload(api, "consumer_a", form(WAV, "x", "application/octet-stream"))
    assert (status, body["data"]["contentType"]) == (201, "audio/wav")


async def test_empty_and_not_multipart_are_refused(
    api: Api, slug: str, container: Container
) -> None:
    status, body = await upload(api, "consumer_a", form(b""))
    assert (status, body["error"]["code"]) == (400, "ERR_2001")
    reply = await api.call("POST", "/api/consumer/files", "consumer_a", {"file": "x"})
    assert (reply.status, reply.code) == (400, "ERR_2001")
    no_file = FormData()
    no_file.add_field("other", b"abc", filename="a.bin")
    status, body = await upload(api, "consumer_a", no_file)
    assert (status, body["error"]["code"]) == (400, "ERR_2001")
    assert await blobs(container) == {}


async def test_over_the_limit_is_413_and_nothing_is_kept(
    api: Api, slug: str, container: Container
) -> None:
    status, body = await upload(api, "consumer_a", form(WAV[:44] + bytes(LIMIT)))
    assert (status, body["success"], body["error"]["code"]) == (413, False, "ERR_4130")
    assert await blobs(container) == {}
    assert await api.ok("GET", "/api/consumer/files", "consumer_a") == []


async def test_exactly_the_limit_is_accepted(api: Api, slug: str) -> None:
    status, body = await upload(
        api, "consumer_a", form(bytes(LIMIT), "zeros.bin", "application/octet-stream")
    )
    assert (status, body["data"]["size"]) == (201, LIMIT)


async def test_list_is_own_newest_first_and_paginated(api: Api, slug: str) -> None:
    ids = []
    for n in range(3):
        _, body = await upload(api, "consumer_a", form(WAV, f"{n}.wav"))
        ids.append(body["data"]["id"])
    await upload(api, "consumer_b", form(WAV))
    reply = await api.call("GET", "/api/consumer/files?limit=2", "consumer_a")
    assert [f["id"] for f in reply.data] == ids[::-1][:2]
    cursor = reply.body["meta"]["nextCursor"]
    rest = await api.ok("GET", f"/api/consumer/files?limit=2&cursor={cursor}", "consumer_a")
    assert [f["id"] for f in rest] == ids[:1]


async def test_delete_own_file_stops_its_link_and_others_are_404(
    api: Api, slug: str, container: Container
) -> None:
    _, body = await upload(api, "consumer_a", form(WAV))
    data = body["data"]
    reply = await api.call("DELETE", f"/api/consumer/files/{data['id']}", "consumer_b")
    assert (reply.status, reply.code) == (404, "ERR_3001")
    reply = await api.call("DELETE", f"/api/consumer/files/{uuid.uuid4()}", "consumer_a")
    assert (reply.status, reply.code) == (404, "ERR_3001")
    reply = await api.call("DELETE", f"/api/consumer/files/{data['id']}", "consumer_a")
    assert reply.status == 200 and reply.data["id"] == data["id"]
    status, _, _ = await get(api, data["url"])
    assert status == 404
    assert await blobs(container) == {}
    assert await api.ok("GET", "/api/consumer/files", "consumer_a") == []


@pytest.mark.parametrize("form_of", ["url", "reference"])
async def test_a_run_stores_the_reference_and_the_worker_gets_a_fresh_link(
    api: Api, slug: str, container: Container, form_of: str
) -> None:
    _, body = await upload(api, "consumer_a", form(WAV))
    data = body["data"]
    reply = await run(api, slug, "consumer_a", {"audio": data[form_of]})
    assert reply.status in (200, 202), reply.text
    execution = reply.data
    assert execution["input"]["audio"] == data["reference"]
    sent = container.simulator_engine().inputs()[-1]
    assert sent["audio"].startswith("http://tarsify.test/files/uploads/")
    assert sent["audio"] != data["url"]
    got = await get(api, sent["audio"])
    assert got[:2] == (200, WAV)


@pytest.mark.parametrize("form_of", ["url", "reference"])
async def test_another_consumers_file_is_refused(api: Api, slug: str, form_of: str) -> None:
    _, body = await upload(api, "consumer_b", form(WAV))
    reply = await run(api, slug, "consumer_a", {"audio": body["data"][form_of]})
    assert (reply.status, reply.code) == (422, "ERR_2005")
    assert [d["field"] for d in reply.body["error"]["details"]] == ["audio"]
    assert await api.ok("GET", "/api/consumer/executions", "consumer_a") == []


async def test_unknown_and_malformed_references_are_refused(api: Api, slug: str) -> None:
    for value in (f"tarsify://files/{uuid.uuid4()}", "tarsify://files/nope"):
        reply = await run(api, slug, "consumer_a", {"audio": value})
        assert (reply.status, reply.code) == (422, "ERR_2005"), value
    _, body = await upload(api, "consumer_b", form(WAV))
    reply = await run(
        api,
        slug,
        "consumer_a",
        {"audio": "https://example.com/a.wav", "references": [body["data"]["url"]]},
    )
    assert (reply.status, reply.code) == (422, "ERR_2005")
    assert reply.body["error"]["details"][0]["field"] == "references[0]"
    # A reference in a field that is not a URI is checked too: it would be signed.
    reply = await run(
        api,
        slug,
        "consumer_a",
        {"audio": "https://example.com/a.wav", "note": body["data"]["reference"]},
    )
    assert (reply.status, reply.code) == (422, "ERR_2005")


async def test_a_deleted_file_cannot_be_run(api: Api, slug: str) -> None:
    _, body = await upload(api, "consumer_a", form(WAV))
    await api.call("DELETE", f"/api/consumer/files/{body['data']['id']}", "consumer_a")
    reply = await run(api, slug, "consumer_a", {"audio": body["data"]["reference"]})
    assert (reply.status, reply.code) == (422, "ERR_2005")


async def test_direct_uploads_need_the_s3_store(api: Api, slug: str) -> None:
    reply = await api.call(
        "POST",
        "/api/consumer/files/uploads",
        "consumer_a",
        {"name": "a.wav", "contentType": "audio/wav", "size": 100},
    )
    assert (reply.status, reply.code) == (400, "ERR_2001")


async def test_a_truncated_upload_keeps_nothing(api: Api, slug: str, container: Container) -> None:
    boundary = "XyZb0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    body = head + WAV[:5000]  # no closing boundary: the body ends in the middle
    headers = {
        "Authorization": f"Bearer {api.tokens['consumer_a']}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    async with api.client.post("/api/consumer/files", data=body, headers=headers) as answer:
        assert answer.status == 400
        assert (await answer.json())["error"]["code"] == "ERR_2001"
    assert await blobs(container) == {}
    assert await api.ok("GET", "/api/consumer/files", "consumer_a") == []
