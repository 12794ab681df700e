"""A Python client generated from /openapi.json runs a model to completion.

``openapi-python-client`` (offline, into a temporary directory) builds the client from
the document the server serves; the client then talks to the server on a real port.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from entrypoints.container import build_container
from entrypoints.http.app import create_app

from .conftest import ClientFactory, make_settings
from .support import Api, seed, tokens

PACKAGE = "tarsify_client"


@pytest.fixture
def generated_path(tmp_path: Path) -> Iterator[Path]:
    """Where the client is generated; importable during the test only."""
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


async def generate(client: TestClient, where: Path) -> Any:
    """Generate the client package from the served document and import it."""
    async with client.get("/openapi.json") as answer:
        (where / "openapi.json").write_bytes(await answer.read())
    tool = Path(sys.executable).parent / "openapi-python-client"
    env = os.environ | {"PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    process = await asyncio.create_subprocess_exec(
        str(tool),
        "generate",
        "--path",
        str(where / "openapi.json"),
        "--output-path",
        str(where / PACKAGE),
        "--meta",
        "none",
        cwd=where,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    assert "Warning" not in output and "Skipping" not in output, output
    return importlib.import_module(PACKAGE)


async def test_generated_client_runs_a_model_to_completion(
    aiohttp_client: ClientFactory, generated_path: Path
) -> None:
    client = await aiohttp_client(create_app(build_container(make_settings())))
    api = Api(client, tokens())
    world = await seed(api)
    generated = await generate(client, generated_path)
    run_model = importlib.import_module(f"{PACKAGE}.api.marketplace.run_model")
    get_execution = importlib.import_module(f"{PACKAGE}.api.consumer.get_execution")
    models = importlib.import_module(f"{PACKAGE}.models")

    base_url = str(client.make_url("")).rstrip("/")
    async with generated.AuthenticatedClient(
        base_url=base_url, token=api.tokens["consumer_a"]
    ) as sdk:
        body = models.RunRequest(inputs=models.RunRequestInputs.from_dict({"prompt": "a fox"}))
        answer = await run_model.asyncio_detailed(
            world.slug, client=sdk, body=body, idempotency_key="generated-1"
        )
        assert answer.status_code == 202
        started = answer.parsed
        assert isinstance(started, models.RunModelResponse) and started.success is True
        assert answer.headers["Location"] == f"/api/consumer/executions/{started.data.id}"
        execution = started.data
        for _ in range(100):
            if execution.status == models.ExecutionStatus.COMPLETED:
                break
            await asyncio.sleep(0.02)
            read = await get_execution.asyncio(execution.id, client=sdk)
            assert isinstance(read, models.GetExecutionResponse)
            execution = read.data
        assert execution.status == models.ExecutionStatus.COMPLETED
        assert execution.model.slug == world.slug
        assert execution.output is not None
        # Errors come back as the typed envelope.
        missing = await get_execution.asyncio(uuid.uuid4(), client=sdk)
        assert isinstance(missing, models.ErrorEnvelope) and missing.error.code == "ERR_5505"
