"""The whole marketplace loop through HTTP, and what it must never reveal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from entrypoints.container import Container

from .support import CONFIG, PROVIDER_ENDPOINT_ID, Api, base_model_body, endpoint_body


async def _poll_until_terminal(api: Api, execution_id: str) -> dict[str, Any]:
    for _ in range(50):
        data = await api.ok("GET", f"/api/consumer/executions/{execution_id}", "consumer_a")
        if data["status"] in ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED"):
            return data  # type: ignore[no-any-return]
        await asyncio.sleep(0.01)
    raise AssertionError("execution never finished")


async def test_full_flow(api: Api, container: Container) -> None:
    # Admin: endpoint and base model.
    endpoint = await api.ok("POST", "/api/admin/endpoints", "admin", endpoint_body(), 201)
    assert endpoint["runpodEndpointId"] == PROVIDER_ENDPOINT_ID
    base = await api.ok(
        "POST", "/api/admin/base-models", "admin", base_model_body(endpoint["id"]), 201
    )
    assert base["endpoint"]["runpodEndpointId"] == PROVIDER_ENDPOINT_ID

    # Developer: register, browse, create, configure, publish.
    dev = await api.ok("POST", "/api/developer/auth/register", "developer_x", {"name": "X"}, 201)
    assert dev["uid"] == "dev-x" and dev["name"] == "X"
    bases = await api.ok("GET", "/api/developer/base-models", "developer_x")
    assert [b["slug"] for b in bases] == ["sdxl"]
    model = await api.ok(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {"baseModelId": base["id"], "title": "Pixel Art Studio"},
        201,
    )
    assert model["status"] == "DRAFT" and model["slug"] == "pixel-art-studio"
    assert model["baseModel"]["slug"] == "sdxl" and model["problems"] == []
    path = f"/api/developer/tars-models/{model['id']}"
    configured = await api.ok("PATCH", path, "developer_x", {"configOverrides": CONFIG})
    assert configured["configOverrides"]["lockedInputs"] == {"steps": 30}
    published = await api.ok("PATCH", path, "developer_x", {"status": "PUBLISHED"})
    assert published["status"] == "PUBLISHED" and published["publishedAt"]

    # Consumer: register, browse, run, poll, list, cancel another.
    await api.ok("POST", "/api/consumer/auth/register", "consumer_a", None, 201)
    listing = await api.ok("GET", "/api/marketplace/models?category=IMAGE")
    assert [m["slug"] for m in listing] == ["pixel-art-studio"]
    detail = await api.ok("GET", "/api/marketplace/models/pixel-art-studio")
    props = detail["inputSchema"]["properties"]
    assert "seed" not in props and props["steps"]["readOnly"] is True
    assert props["width"]["default"] == 512

    run = await api.call(
        "POST",
        "/api/marketplace/models/pixel-art-studio/run",
        "consumer_a",
        {"inputs": {"prompt": "a cat"}},
    )
    assert run.status == 202, run.text
    assert run.data["status"] in ("QUEUED", "PENDING", "RUNNING")
    assert run.data["model"] == {"slug": "pixel-art-studio", "title": "Pixel Art Studio"}
    done = await _poll_until_terminal(api, run.data["id"])
    assert done["status"] == "COMPLETED" and done["output"]["simulated"] is True
    assert done["error"] is None and done["completedAt"]

    mine = await api.ok("GET", "/api/consumer/executions", "consumer_a")
    assert [e["id"] for e in mine] == [run.data["id"]]

    container.simulator_engine().hang_next()
    hanging = await api.ok(
        "POST",
        "/api/marketplace/models/pixel-art-studio/run",
        "consumer_a",
        {"inputs": {"prompt": "a dog"}},
        202,
    )
    running = await api.ok("GET", f"/api/consumer/executions/{hanging['id']}", "consumer_a")
    assert running["status"] == "RUNNING"
    cancelled = await api.ok(
        "POST", f"/api/consumer/executions/{hanging['id']}/cancel", "consumer_a"
    )
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["error"]["code"] == "JOB_CANCELLED"
    again = await api.call("POST", f"/api/consumer/executions/{hanging['id']}/cancel", "consumer_a")
    assert (again.status, again.code) == (409, "ERR_5507")

    finished = await api.ok("GET", "/api/consumer/executions?status=COMPLETED", "consumer_a")
    assert [e["id"] for e in finished] == [run.data["id"]]


async def test_no_provider_ids_reach_developers_or_consumers(
    api: Api, container: Container
) -> None:
    await test_full_flow(api, container)
    await api.ok("GET", "/api/developer/tars-models", "developer_x")
    store = container.memory_store()
    job_ids = [e.provider_job_id for e in store.tables["executions"].values()]
    assert len(job_ids) == 2 and all(job_ids)
    endpoint_ids = [str(e.id) for e in store.tables["endpoints"].values()]
    secrets = [PROVIDER_ENDPOINT_ID, *job_ids, *endpoint_ids]
    checked = 0
    for method, path, reply in api.log:
        if path.startswith("/api/admin"):
            continue
        checked += 1
        for secret in secrets:
            assert secret not in reply.text, (method, path, secret)
        assert "runpodEndpointId" not in reply.text and "JobId" not in reply.text
        assert "providerEndpointId" not in reply.text and 'provider"' not in reply.text
        if not path.startswith("/api/developer"):
            assert "SECRET" not in reply.text, (method, path)  # prompt prefix and suffix
    assert checked >= 15


@pytest.mark.parametrize("output_type", ["TEXT", "JSON"])
async def test_simulated_outputs_never_show_what_the_developer_hid(
    api: Api, container: Container, output_type: str
) -> None:
    """The worker gets the merged input; the consumer's output shows none of its hidden
    parts (a hidden field's value, the prompt prefix and suffix)."""
    schema = {
        "type": "object",
        "properties": {"prompt": {"type": "string"}, "style": {"type": "string"}},
        "required": ["prompt"],
    }
    config = {
        "lockedInputs": {"style": "HIDDEN-STYLE"},
        "hiddenFields": ["style"],
        "promptPrefix": "PFX-SECRET ",
        "promptSuffix": " SFX-SECRET",
    }
    endpoint = await api.ok("POST", "/api/admin/endpoints", "admin", endpoint_body(), 201)
    body = base_model_body(
        endpoint["id"], slug="words", category="TEXT", inputSchema=schema, outputType=output_type
    )
    base = await api.ok("POST", "/api/admin/base-models", "admin", body, 201)
    await api.ok("POST", "/api/developer/auth/register", "developer_x", {}, 201)
    await api.ok("POST", "/api/consumer/auth/register", "consumer_a", {}, 201)
    model = await api.ok(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {"baseModelId": base["id"], "title": "Words", "configOverrides": config},
        201,
    )
    path = f"/api/developer/tars-models/{model['id']}"
    await api.ok("PATCH", path, "developer_x", {"status": "PUBLISHED"})
    run = await api.ok(
        "POST",
        f"/api/marketplace/models/{model['slug']}/run",
        "consumer_a",
        {"inputs": {"prompt": "a cat"}},
        202,
    )
    done = await _poll_until_terminal(api, run["id"])
    assert done["status"] == "COMPLETED" and done["output"]["simulated"] is True
    sent = container.simulator_engine().inputs()[-1]
    assert sent == {"prompt": "PFX-SECRET a cat SFX-SECRET", "style": "HIDDEN-STYLE"}
    shown = json.dumps(done["output"])
    for hidden in ("PFX-SECRET", "SFX-SECRET", "HIDDEN-STYLE", "style"):
        assert hidden not in shown, (hidden, shown)
    if output_type == "TEXT":
        assert done["output"]["text"].startswith("[simulated] ")
