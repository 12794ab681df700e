"""Liveness and readiness."""

from __future__ import annotations

from entrypoints.container import Container, resolve

from .support import Api


async def test_liveness_and_readiness(api: Api) -> None:
    simulated = {"gpuProvider": "simulator", "simulated": True, "providers": ["fal", "runpod"]}
    assert await api.ok("GET", "/health") == {"status": "ok", **simulated}
    assert await api.ok("GET", "/health/ready") == {"status": "ready", **simulated}


async def test_readiness_is_503_err_5002_when_the_database_is_down(
    api: Api, container: Container
) -> None:
    container.memory_store().down = True
    reply = await api.call("GET", "/health/ready")
    assert (reply.status, reply.code) == (503, "ERR_5002")
    assert (await api.ok("GET", "/health"))["status"] == "ok"


async def test_storage_outage_on_a_route_is_503(api: Api, container: Container) -> None:
    container.memory_store().down = True
    reply = await api.call("GET", "/api/marketplace/models")
    assert (reply.status, reply.code) == (503, "ERR_5002")


async def test_readiness_is_503_when_the_file_store_is_down(api: Api, container: Container) -> None:
    blobs = await resolve(container.blob_store)
    blobs.down = True
    reply = await api.call("GET", "/health/ready")
    assert (reply.status, reply.code) == (503, "ERR_5002")
    # The answer says which part fails.
    assert reply.body["error"]["message"] == "Not ready: the file store fails"
    assert list(reply.body["error"]["details"]) == ["fileStore"]
    container.memory_store().down = True
    both = (await api.call("GET", "/health/ready")).body["error"]
    assert list(both["details"]) == ["database", "fileStore"]
    container.memory_store().down = False
    blobs.down = False
    assert (await api.ok("GET", "/health/ready"))["status"] == "ready"
