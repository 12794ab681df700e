"""Marketplace: browse and detail (anyone), run (consumers)."""

from __future__ import annotations

from entrypoints.container import Container

from .support import Api, World, base_model_body

MODELS = "/api/marketplace/models"


async def test_list_shows_published_models_only(api: Api, world: World) -> None:
    reply = await api.call("GET", MODELS)
    assert reply.body["meta"] == {"limit": 20, "nextCursor": None}
    assert len(reply.data) == 1
    item = reply.data[0]
    assert set(item) == {
        "slug",
        "title",
        "description",
        "category",
        "outputType",
        "estimatedSeconds",
        "pricePerRun",
        "developerName",
        "publishedAt",
    }
    assert item["slug"] == world.slug and item["developerName"] == "Xavier"
    assert "SECRET" not in reply.text


async def test_category_filter_and_pagination(api: Api, world: World) -> None:
    audio = await api.ok(
        "POST",
        "/api/admin/base-models",
        "admin",
        base_model_body(world.endpoint_id, slug="tts", category="AUDIO", outputType="AUDIO"),
        201,
    )
    for title in ("Voice One", "Voice Two"):
        created = await api.ok(
            "POST",
            "/api/developer/tars-models",
            "developer_y",
            {"baseModelId": audio["id"], "title": title},
            201,
        )
        await api.ok(
            "PATCH",
            f"/api/developer/tars-models/{created['id']}",
            "developer_y",
            {"status": "PUBLISHED"},
        )
    assert [m["slug"] for m in await api.ok("GET", f"{MODELS}?category=IMAGE")] == [world.slug]
    first = await api.call("GET", f"{MODELS}?category=AUDIO&limit=1")
    assert [m["slug"] for m in first.data] == ["voice-two"]
    cursor = first.body["meta"]["nextCursor"]
    second = await api.call("GET", f"{MODELS}?category=AUDIO&limit=1&cursor={cursor}")
    assert [m["slug"] for m in second.data] == ["voice-one"]
    assert second.body["meta"]["nextCursor"] is None
    bad = await api.call("GET", f"{MODELS}?category=SMELL")
    assert (bad.status, bad.code) == (400, "ERR_2002")


async def test_detail_has_the_processed_schema(api: Api, world: World) -> None:
    reply = await api.call("GET", f"{MODELS}/{world.slug}")
    schema = reply.data["inputSchema"]
    assert set(schema["properties"]) == {"prompt", "width", "steps"}
    assert schema["properties"]["steps"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 30,
        "readOnly": True,
    }
    assert schema["required"] == ["prompt"]
    assert "SECRET" not in reply.text and "configOverrides" not in reply.data
    for slug in ("pixel-art-nope", "draft-one"):
        missing = await api.call("GET", f"{MODELS}/{slug}")
        assert (missing.status, missing.code) == (404, "ERR_5500")


async def test_run_merges_and_validates(api: Api, world: World, container: Container) -> None:
    run = f"{MODELS}/{world.slug}/run"
    sent = {"prompt": "cat", "seed": 5, "steps": 99}
    reply = await api.call("POST", run, "consumer_a", {"inputs": sent})
    assert reply.status == 202, reply.text
    # What the consumer sent, nothing of the developer's, less what they cannot set (the
    # hidden seed, the locked steps): dropped, never stored.
    assert reply.data["input"] == {"prompt": "cat"}
    assert "SECRET" not in reply.text
    assert container.simulator_engine().inputs() == [
        {
            "prompt": "PFX-SECRET cat SFX-SECRET",
            "steps": 30,
            "width": 512,
        }
    ]
    bad = await api.call("POST", run, "consumer_a", {"inputs": {"prompt": "cat", "width": 5}})
    assert (bad.status, bad.code) == (422, "ERR_2005")
    assert bad.body["error"]["details"][0]["field"] == "width"
    missing = await api.call("POST", run, "consumer_a", {"inputs": {}})
    assert (missing.status, missing.code) == (422, "ERR_2005")
    assert missing.body["error"]["details"] == [{"field": "prompt", "message": "is required"}]
    no_inputs = await api.call("POST", run, "consumer_a", {})
    assert (no_inputs.status, no_inputs.code) == (400, "ERR_2001")
    assert await api.ok("GET", "/api/consumer/executions", "consumer_a") != []


async def test_run_with_wait_answers_200_when_finished(api: Api, world: World) -> None:
    reply = await api.call(
        "POST", f"{MODELS}/{world.slug}/run?wait=5", "consumer_a", {"inputs": {"prompt": "cat"}}
    )
    assert reply.status == 200, reply.text
    assert reply.data["status"] == "COMPLETED" and reply.data["output"]["simulated"] is True
    for wait in ("-1", "61", "abc", "nan", "inf"):
        bad = await api.call(
            "POST",
            f"{MODELS}/{world.slug}/run?wait={wait}",
            "consumer_a",
            {"inputs": {"prompt": "cat"}},
        )
        assert (bad.status, bad.code) == (400, "ERR_2002"), wait


async def test_run_of_unknown_or_unpublished_models(api: Api, world: World) -> None:
    unknown = await api.call("POST", f"{MODELS}/nope/run", "consumer_a", {"inputs": {}})
    assert (unknown.status, unknown.code) == (404, "ERR_5500")
    draft = await api.call(
        "POST", f"{MODELS}/draft-one/run", "consumer_a", {"inputs": {"prompt": "x"}}
    )
    assert (draft.status, draft.code) == (400, "ERR_5501")
    await api.ok("DELETE", f"/api/admin/endpoints/{world.endpoint_id}", "admin")
    inactive = await api.call(
        "POST", f"{MODELS}/{world.slug}/run", "consumer_a", {"inputs": {"prompt": "x"}}
    )
    assert (inactive.status, inactive.code) == (400, "ERR_5502")


async def test_idempotency_key(api: Api, world: World) -> None:
    run = f"{MODELS}/{world.slug}/run"
    key = {"Idempotency-Key": "order-42"}
    first = await api.call("POST", run, "consumer_a", {"inputs": {"prompt": "cat"}}, headers=key)
    again = await api.call("POST", run, "consumer_a", {"inputs": {"prompt": "cat"}}, headers=key)
    assert first.status == again.status == 202 and first.data["id"] == again.data["id"]
    other = await api.call("POST", run, "consumer_b", {"inputs": {"prompt": "cat"}}, headers=key)
    assert other.data["id"] != first.data["id"]
    changed = await api.call("POST", run, "consumer_a", {"inputs": {"prompt": "dog"}}, headers=key)
    assert (changed.status, changed.code) == (409, "ERR_3003")
    for bad_key in ("x" * 256, "tab\tkey", "caf\u00e9"):
        bad = await api.call(
            "POST",
            run,
            "consumer_a",
            {"inputs": {"prompt": "cat"}},
            headers={"Idempotency-Key": bad_key},
        )
        assert (bad.status, bad.code) == (400, "ERR_2002"), bad_key


async def test_provider_refusal_is_recorded_as_failed(
    api: Api, world: World, container: Container
) -> None:
    container.simulator_engine().fail_next()
    reply = await api.call(
        "POST", f"{MODELS}/{world.slug}/run?wait=2", "consumer_a", {"inputs": {"prompt": "cat"}}
    )
    assert reply.status == 200 and reply.data["status"] == "FAILED"
    assert reply.data["error"]["code"] == "JOB_FAILED"
    assert "Traceback" not in reply.text
