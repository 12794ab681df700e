"""Developer routes: browsing base models, own Tars models, publishing."""

from __future__ import annotations

from .support import CONFIG, PROVIDER_ENDPOINT_ID, Api, World, base_model_body, random_id

TARS = "/api/developer/tars-models"


async def test_browse_shows_only_runnable_base_models_without_provider_ids(
    api: Api, world: World
) -> None:
    other = await api.ok(
        "POST",
        "/api/admin/base-models",
        "admin",
        base_model_body(world.endpoint_id, slug="retired"),
        201,
    )
    await api.ok("DELETE", f"/api/admin/base-models/{other['id']}", "admin")
    reply = await api.call("GET", "/api/developer/base-models", "developer_y")
    assert [b["slug"] for b in reply.data] == ["sdxl"]
    assert set(reply.data[0]) == {
        "id",
        "slug",
        "name",
        "description",
        "category",
        "inputSchema",
        "outputType",
        "outputFormat",
        "estimatedSeconds",
        "minPricePerRun",
        "gpuType",
        "streaming",
    }
    assert PROVIDER_ENDPOINT_ID not in reply.text and world.endpoint_id not in reply.text
    await api.ok("DELETE", f"/api/admin/endpoints/{world.endpoint_id}", "admin")
    assert await api.ok("GET", "/api/developer/base-models", "developer_y") == []


async def test_create_read_list(api: Api, world: World) -> None:
    created = await api.ok(
        "POST",
        TARS,
        "developer_y",
        {
            "baseModelId": world.base_model_id,
            "title": "Pixel Art",
            "slug": "y-pixels",
            "description": "d",
        },
        201,
    )
    assert created["slug"] == "y-pixels" and created["status"] == "DRAFT"
    assert created["baseModel"] == {
        "id": world.base_model_id,
        "slug": "sdxl",
        "name": "Stable Diffusion XL",
        "category": "IMAGE",
    }
    assert created["publishedAt"] is None and created["problems"] == []
    assert await api.ok("GET", f"{TARS}/{created['id']}", "developer_y") == created
    listed = await api.ok("GET", TARS, "developer_y")
    assert [t["id"] for t in listed] == [created["id"]]
    assert "problems" not in listed[0] and listed[0]["baseModelId"] == world.base_model_id
    mine_x = await api.ok("GET", TARS, "developer_x")
    assert [t["id"] for t in mine_x] == [world.draft_id, world.model_id]


async def test_generated_slugs_are_unique(api: Api, world: World) -> None:
    body = {"baseModelId": world.base_model_id, "title": "Pixel Art"}
    again = await api.ok("POST", TARS, "developer_y", body, 201)
    assert again["slug"] == "pixel-art-2"
    taken = await api.call("POST", TARS, "developer_y", {**body, "slug": "pixel-art"})
    assert (taken.status, taken.code) == (409, "ERR_5503")


async def test_create_errors(api: Api, world: World) -> None:
    unknown = await api.call(
        "POST", TARS, "developer_x", {"baseModelId": random_id(), "title": "T"}
    )
    assert (unknown.status, unknown.code) == (404, "ERR_5508")
    bad_config = await api.call(
        "POST",
        TARS,
        "developer_x",
        {"baseModelId": world.base_model_id, "title": "T", "configOverrides": {"nope": 1}},
    )
    assert (bad_config.status, bad_config.code) == (400, "ERR_2001")
    await api.ok("DELETE", f"/api/admin/base-models/{world.base_model_id}", "admin")
    inactive = await api.call(
        "POST", TARS, "developer_x", {"baseModelId": world.base_model_id, "title": "T"}
    )
    assert (inactive.status, inactive.code) == (400, "ERR_5509")


async def test_a_base_model_is_named_by_id_or_by_slug(api: Api, world: World) -> None:
    by_slug = await api.ok("POST", TARS, "developer_y", {"baseModelId": "sdxl", "title": "S"}, 201)
    assert by_slug["baseModelId"] == world.base_model_id
    assert by_slug["baseModel"]["slug"] == "sdxl"
    by_id = {"baseModelId": world.base_model_id, "title": "I"}
    assert (await api.ok("POST", TARS, "developer_y", by_id, 201))["baseModelId"] == (
        world.base_model_id
    )
    # An unknown slug is refused exactly like an unknown id.
    unknown_slug = await api.call(
        "POST", TARS, "developer_y", {"baseModelId": "nope", "title": "T"}
    )
    unknown_id = await api.call(
        "POST", TARS, "developer_y", {"baseModelId": random_id(), "title": "T"}
    )
    assert (unknown_slug.status, unknown_slug.code) == (404, "ERR_5508")
    assert unknown_slug.body == unknown_id.body
    # Neither an id nor a slug: a body error naming the field.
    for bad in ("Not A Slug!", "x", 7, None, ""):
        reply = await api.call("POST", TARS, "developer_y", {"baseModelId": bad, "title": "T"})
        assert (reply.status, reply.code) == (400, "ERR_2001"), bad
        assert {d["field"] for d in reply.body["error"]["details"]} == {"baseModelId"}, reply.text
    # A deactivated base model is refused by slug as by id.
    await api.ok("DELETE", f"/api/admin/base-models/{world.base_model_id}", "admin")
    inactive = await api.call("POST", TARS, "developer_y", {"baseModelId": "sdxl", "title": "T"})
    assert (inactive.status, inactive.code) == (400, "ERR_5509")
    assert len(await api.ok("GET", TARS, "developer_y")) == 2  # nothing more was stored


async def test_publish_is_refused_with_reasons(api: Api, world: World) -> None:
    path = f"{TARS}/{world.draft_id}"
    broken = {"lockedInputs": {"width": 10}, "hiddenFields": ["prompt"]}
    configured = await api.ok("PATCH", path, "developer_x", {"configOverrides": broken})
    assert {p["field"] for p in configured["problems"]} == {
        "configOverrides.lockedInputs.width",
        "configOverrides.hiddenFields.prompt",
    }
    refused = await api.call("PATCH", path, "developer_x", {"status": "PUBLISHED"})
    assert (refused.status, refused.code) == (400, "ERR_5504")
    assert len(refused.body["error"]["details"]) == 2
    fixed = await api.ok("PATCH", path, "developer_x", {"configOverrides": CONFIG})
    assert fixed["problems"] == []
    published = await api.ok("PATCH", path, "developer_x", {"status": "PUBLISHED"})
    assert published["status"] == "PUBLISHED" and published["publishedAt"]


async def test_archive_and_transitions(api: Api, world: World) -> None:
    path = f"{TARS}/{world.model_id}"
    archived = await api.ok("DELETE", path, "developer_x")
    assert archived["status"] == "ARCHIVED"
    assert await api.ok("GET", "/api/marketplace/models") == []
    refused = await api.call("PATCH", path, "developer_x", {"status": "PUBLISHED"})
    assert (refused.status, refused.code) == (400, "ERR_5504")
    bad_status = await api.call("PATCH", path, "developer_x", {"status": "LIVE"})
    assert (bad_status.status, bad_status.code) == (400, "ERR_2001")


async def test_other_developers_models_are_not_found(api: Api, world: World) -> None:
    for method, body in (("GET", None), ("PATCH", {"title": "mine"}), ("DELETE", None)):
        reply = await api.call(method, f"{TARS}/{world.model_id}", "developer_y", body)
        assert (reply.status, reply.code) == (404, "ERR_5500"), method
        missing = await api.call(method, f"{TARS}/{random_id()}", "developer_x", body)
        assert (missing.status, missing.code) == (404, "ERR_5500"), method
        bad = await api.call(method, f"{TARS}/not-a-uuid", "developer_x", body)
        assert (bad.status, bad.code) == (400, "ERR_2003"), method
    assert await api.ok("GET", TARS, "developer_y") == []


async def test_unregistered_developer_is_404_err_1004(api: Api) -> None:
    for method, path in (
        ("GET", TARS),
        ("GET", "/api/developer/base-models"),
        ("GET", f"{TARS}/{random_id()}"),
    ):
        reply = await api.call(method, path, "developer_x")
        assert (reply.status, reply.code) == (404, "ERR_1004"), path
        register = "POST /api/developer/auth/register"
        assert reply.body["error"]["message"].endswith(f"register first with {register}"), path
        assert reply.body["error"]["details"] == {"register": register}, path
