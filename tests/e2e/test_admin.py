"""Admin routes: GPU endpoints and base models."""

from __future__ import annotations

from .support import PROVIDER_ENDPOINT_ID, Api, base_model_body, endpoint_body, random_id

ENDPOINTS = "/api/admin/endpoints"
BASES = "/api/admin/base-models"


async def test_endpoint_crud(api: Api) -> None:
    created = await api.ok("POST", ENDPOINTS, "admin", endpoint_body(dockerImage="img:1"), 201)
    assert created["runpodEndpointId"] == PROVIDER_ENDPOINT_ID
    assert created["source"] == "HUB" and created["isActive"] is True
    assert created["dockerImage"] == "img:1"
    path = f"{ENDPOINTS}/{created['id']}"
    changed = await api.ok("PATCH", path, "admin", {"name": "SDXL 2", "dockerImage": None})
    assert changed["name"] == "SDXL 2" and changed["dockerImage"] is None
    assert changed["runpodEndpointId"] == PROVIDER_ENDPOINT_ID
    listed = await api.ok("GET", ENDPOINTS, "admin")
    assert [(e["id"], e["baseModelCount"]) for e in listed] == [(created["id"], 0)]
    deleted = await api.ok("DELETE", path, "admin")
    assert deleted["isActive"] is False
    assert (await api.ok("GET", ENDPOINTS, "admin"))[0]["isActive"] is False


async def test_endpoint_errors(api: Api) -> None:
    await api.ok("POST", ENDPOINTS, "admin", endpoint_body(), 201)
    dup = await api.call("POST", ENDPOINTS, "admin", endpoint_body())
    assert (dup.status, dup.code) == (409, "ERR_3002")
    missing = await api.call("PATCH", f"{ENDPOINTS}/{random_id()}", "admin", {"name": "x"})
    assert (missing.status, missing.code) == (404, "ERR_3001")
    bad_id = await api.call("PATCH", f"{ENDPOINTS}/not-a-uuid", "admin", {"name": "x"})
    assert (bad_id.status, bad_id.code) == (400, "ERR_2003")
    bad_delete = await api.call("DELETE", f"{ENDPOINTS}/123", "admin")
    assert (bad_delete.status, bad_delete.code) == (400, "ERR_2003")
    null_name = await api.call("PATCH", f"{ENDPOINTS}/{random_id()}", "admin", {"name": None})
    assert (null_name.status, null_name.code) == (400, "ERR_2001")
    missing_fields = await api.call("POST", ENDPOINTS, "admin", {"name": "x"})
    fields = {d["field"] for d in missing_fields.body["error"]["details"]}
    assert fields == {"providerEndpointId"}


async def test_endpoints_name_their_provider(api: Api) -> None:
    runpod = await api.ok("POST", ENDPOINTS, "admin", endpoint_body(), 201)
    assert (runpod["provider"], runpod["providerEndpointId"]) == ("runpod", PROVIDER_ENDPOINT_ID)
    body = {"provider": "fal", "providerEndpointId": "fal-ai/flux/schnell", "name": "FLUX"}
    fal = await api.ok("POST", ENDPOINTS, "admin", body, 201)
    assert fal["provider"] == "fal" and fal["providerEndpointId"] == "fal-ai/flux/schnell"
    assert fal["runpodEndpointId"] is None and fal["gpuType"] is None
    # The same id may be used on another provider; twice on one is a conflict.
    same = {"providerEndpointId": "fal-ai/flux/schnell", "provider": "runpod", "name": "x"}
    refused_shape = await api.call("POST", ENDPOINTS, "admin", same)
    assert (refused_shape.status, refused_shape.code) == (400, "ERR_2001")
    assert refused_shape.body["error"]["details"][0]["field"] == "providerEndpointId"
    dup = await api.call("POST", ENDPOINTS, "admin", body)
    assert (dup.status, dup.code) == (409, "ERR_3002")
    # runpodEndpointId is RunPod's alone, and must agree with providerEndpointId.
    wrong = await api.call("POST", ENDPOINTS, "admin", body | {"runpodEndpointId": "rp-x"})
    assert wrong.body["error"]["details"][0]["field"] == "runpodEndpointId"
    both = endpoint_body("rp-a", providerEndpointId="rp-b")
    assert (await api.call("POST", ENDPOINTS, "admin", both)).code == "ERR_2001"
    agreed = await api.ok(
        "POST", ENDPOINTS, "admin", endpoint_body("rp-c", providerEndpointId="rp-c"), 201
    )
    assert agreed["runpodEndpointId"] == "rp-c"
    # A change keeps the provider's id shape.
    path = f"{ENDPOINTS}/{fal['id']}"
    moved = await api.ok("PATCH", path, "admin", {"providerEndpointId": "fal-ai/fast-sdxl"})
    assert moved["providerEndpointId"] == "fal-ai/fast-sdxl"
    bad = await api.call("PATCH", path, "admin", {"provider": "runpod"})
    assert (bad.status, bad.code) == (400, "ERR_2001")
    unknown = await api.call("POST", ENDPOINTS, "admin", body | {"provider": "replicate"})
    assert (unknown.status, unknown.code) == (400, "ERR_2001")


async def test_list_pagination(api: Api) -> None:
    ids = [
        (await api.ok("POST", ENDPOINTS, "admin", endpoint_body(f"ep-{i}"), 201))["id"]
        for i in range(5)
    ]
    first = await api.call("GET", f"{ENDPOINTS}?limit=2", "admin")
    assert first.body["meta"]["limit"] == 2 and first.body["meta"]["nextCursor"]
    seen = [e["id"] for e in first.data]
    cursor = first.body["meta"]["nextCursor"]
    while cursor:
        page = await api.call("GET", f"{ENDPOINTS}?limit=2&cursor={cursor}", "admin")
        seen += [e["id"] for e in page.data]
        cursor = page.body["meta"]["nextCursor"]
    assert seen == list(reversed(ids))
    default = await api.call("GET", ENDPOINTS, "admin")
    assert default.body["meta"] == {"limit": 20, "nextCursor": None}


async def test_bad_list_parameters_are_err_2002(api: Api) -> None:
    for query in (
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-1",
        "limit=1.5",
        "cursor=zzz",
        "cursor=",
    ):
        reply = await api.call("GET", f"{ENDPOINTS}?{query}", "admin")
        assert (reply.status, reply.code) == (400, "ERR_2002"), query


async def test_base_model_crud(api: Api) -> None:
    endpoint = await api.ok("POST", ENDPOINTS, "admin", endpoint_body(), 201)
    created = await api.ok("POST", BASES, "admin", base_model_body(endpoint["id"]), 201)
    assert created["endpoint"] == {
        "id": endpoint["id"],
        "provider": "runpod",
        "providerEndpointId": PROVIDER_ENDPOINT_ID,
        "runpodEndpointId": PROVIDER_ENDPOINT_ID,
        "name": "SDXL",
        "gpuType": "A100",
        "isActive": True,
    }
    assert created["estimatedSeconds"] == 10 and created["inputSchema"]["type"] == "object"
    path = f"{BASES}/{created['id']}"
    changed = await api.ok("PATCH", path, "admin", {"description": "Fast", "estimatedSeconds": 5})
    assert (changed["description"], changed["estimatedSeconds"]) == ("Fast", 5)
    listed = await api.ok("GET", BASES, "admin")
    assert [b["id"] for b in listed] == [created["id"]]
    counts = await api.ok("GET", ENDPOINTS, "admin")
    assert counts[0]["baseModelCount"] == 1
    deleted = await api.ok("DELETE", path, "admin")
    assert deleted["isActive"] is False


async def test_base_model_validation(api: Api) -> None:
    endpoint = await api.ok("POST", ENDPOINTS, "admin", endpoint_body(), 201)
    eid = endpoint["id"]
    unknown = await api.call("POST", BASES, "admin", base_model_body(random_id()))
    assert (unknown.status, unknown.code) == (404, "ERR_3001")
    bad_slug = await api.call("POST", BASES, "admin", base_model_body(eid, slug="Bad Slug"))
    assert (bad_slug.status, bad_slug.code) == (400, "ERR_2001")
    not_object = await api.call(
        "POST", BASES, "admin", base_model_body(eid, inputSchema={"type": "string"})
    )
    assert (not_object.status, not_object.code) == (400, "ERR_2001")
    invalid = await api.call(
        "POST",
        BASES,
        "admin",
        base_model_body(eid, inputSchema={"type": "object", "properties": {"a": {"type": 7}}}),
    )
    assert (invalid.status, invalid.code) == (400, "ERR_2001")
    await api.ok("POST", BASES, "admin", base_model_body(eid), 201)
    dup = await api.call("POST", BASES, "admin", base_model_body(eid))
    assert (dup.status, dup.code) == (409, "ERR_3002")
    missing = await api.call("PATCH", f"{BASES}/{random_id()}", "admin", {"name": "x"})
    assert (missing.status, missing.code) == (404, "ERR_5508")
    bad_id = await api.call("DELETE", f"{BASES}/nope", "admin")
    assert (bad_id.status, bad_id.code) == (400, "ERR_2003")
    bad_category = await api.call(
        "POST", BASES, "admin", base_model_body(eid, slug="x2", category="SMELL")
    )
    assert bad_category.body["error"]["details"][0]["field"] == "category"
