"""What a run keeps of its inputs: at most MAX_INPUT_BYTES once merged, and never a value
for a field the consumer cannot set (hidden or locked)."""

from __future__ import annotations

import pytest

from entrypoints.config import Settings

from .conftest import make_settings
from .support import Api, World

EXECUTIONS = "/api/consumer/executions"


@pytest.fixture
def settings() -> Settings:
    return make_settings(max_input_bytes=1024)


def _run_path(world: World) -> str:
    return f"/api/marketplace/models/{world.slug}/run"


async def test_inputs_over_the_limit_once_merged_are_413_and_nothing_is_stored(
    api: Api, world: World
) -> None:
    # The merged payload adds the prefix, suffix and developer values to the prompt.
    wrapping = len('{"prompt":"PFX-SECRET  SFX-SECRET","width":512,"steps":30}')
    fits = "a" * (1024 - wrapping)
    done = await api.ok("POST", _run_path(world), "consumer_a", {"inputs": {"prompt": fits}}, 202)
    assert done["input"] == {"prompt": fits}
    over = await api.call(
        "POST", _run_path(world), "consumer_a", {"inputs": {"prompt": fits + "a"}}
    )
    assert (over.status, over.code) == (413, "ERR_4130")
    assert over.body["error"]["details"] == [
        {"field": "inputs", "message": "larger than 1024 bytes"}
    ]
    assert [e["id"] for e in await api.ok("GET", EXECUTIONS, "consumer_a")] == [done["id"]]


async def test_values_for_hidden_locked_and_null_fields_are_never_stored(
    api: Api, world: World
) -> None:
    # Far over the limit, but none of it is merged: the run goes ahead without it.
    inputs = {"prompt": "cat", "seed": "s" * 20_000, "steps": "t" * 20_000, "width": None}
    data = await api.ok("POST", f"{_run_path(world)}?wait=5", "consumer_a", {"inputs": inputs}, 200)
    assert data["status"] == "COMPLETED"
    assert data["input"] == {"prompt": "cat"}
    again = await api.ok("GET", f"{EXECUTIONS}/{data['id']}", "consumer_a")
    assert again["input"] == {"prompt": "cat"}
    [listed] = await api.ok("GET", EXECUTIONS, "consumer_a")
    assert listed["input"] == {"prompt": "cat"}
