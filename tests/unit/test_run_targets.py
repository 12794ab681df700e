"""A process's copy of run targets (``RunTargets``) and what a run does when the insert
finds that copy out of date: another process changed the catalog meanwhile."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from adapters.memory.clock import ManualClock
from tarsify.domain.config import ConfigOverrides
from tarsify.domain.errors import (
    BaseModelNotActive,
    Conflict,
    EndpointNotActive,
    ModelNotPublished,
    TooManyActiveExecutions,
)
from tarsify.domain.models import ExecutionStatus, RunTarget, TarsModelStatus
from tarsify.domain.run_request import RunRequest
from tarsify.services.catalog import CatalogService, NewEndpoint
from tarsify.services.engine.run_targets import MAX_ENTRIES, RunTargets
from tarsify.services.engine.settings import EngineSettings
from tarsify.services.studio import StudioService
from tests.unit.world import World, make_world


class Reads:
    """A unit of work factory that only answers ``get_run_target``, counting the reads."""

    def __init__(self, target: RunTarget | None) -> None:
        self.target = target
        self.calls = 0

    def __call__(self, **_: Any) -> Reads:
        return self

    async def __aenter__(self) -> Reads:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None

    @property
    def tars_models(self) -> Reads:
        return self

    async def get_run_target(self, slug: str) -> RunTarget | None:
        self.calls += 1
        return self.target


async def target_of(w: World) -> RunTarget:
    async with w.store.unit_of_work() as uow:
        target = await uow.tars_models.get_run_target(w.model.slug)
    assert target is not None
    return target


async def test_a_target_is_read_once_per_ttl() -> None:
    w = await make_world()
    clock = ManualClock()
    reads = Reads(await target_of(w))
    targets = RunTargets(reads, clock, ttl_s=1.0)  # type: ignore[arg-type]
    first = await targets.get("m")
    assert first is not None and reads.calls == 1
    clock.advance(0.999)
    assert await targets.get("m") is first and reads.calls == 1
    clock.advance(0.001)  # exactly the TTL: read again
    again = await targets.get("m")
    assert again is not None and again is not first and reads.calls == 2
    targets.forget()
    await targets.get("m")
    assert reads.calls == 3


async def test_what_cannot_run_is_never_kept_nor_with_no_ttl() -> None:
    w = await make_world()
    target = await target_of(w)
    archived = dataclasses.replace(
        target, tars_model=dataclasses.replace(target.tars_model, status=TarsModelStatus.ARCHIVED)
    )
    for kept, ttl in ((archived, 1.0), (target, 0.0)):
        reads = Reads(kept)
        targets = RunTargets(reads, ManualClock(), ttl_s=ttl)  # type: ignore[arg-type]
        assert await targets.get("m") is not None
        assert await targets.get("m") is not None
        assert reads.calls == 2
    missing = Reads(None)
    targets = RunTargets(missing, ManualClock())  # type: ignore[arg-type]
    assert await targets.get("m") is None and await targets.get("m") is None
    assert missing.calls == 2


async def test_at_most_max_entries_are_kept_the_oldest_go_first() -> None:
    w = await make_world()
    reads = Reads(await target_of(w))
    targets = RunTargets(reads, ManualClock())  # type: ignore[arg-type]
    for n in range(MAX_ENTRIES + 1):
        await targets.get(f"m{n}")
    calls = reads.calls
    await targets.get(f"m{MAX_ENTRIES}")
    await targets.get("m1")
    assert reads.calls == calls
    await targets.get("m0")
    assert reads.calls == calls + 1


async def test_the_prepared_check_is_the_models_own() -> None:
    w = await make_world()
    targets = RunTargets(w.store.unit_of_work, ManualClock())
    prepared = await targets.get(w.model.slug)
    assert prepared is not None
    payload, violations = prepared.check({"prompt": "a cat", "seed": 5})
    assert violations == []
    assert payload == {"prompt": "art: a cat", "width": 768, "num_images": 1}
    _, violations = prepared.check({"prompt": 5})
    assert [v["field"] for v in violations] == ["prompt"]


# --- a copy out of date: the catalog changed in another process --------------------------


async def warm(w: World) -> None:
    """One run, so that this process keeps the model's target."""
    await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "warm"}))


def elsewhere(w: World) -> tuple[CatalogService, StudioService]:
    """The catalog and studio of another process: they cannot tell this one's copy."""
    return CatalogService(w.store.unit_of_work, w.clock), StudioService(
        w.store.unit_of_work, w.clock
    )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("unpublished", ModelNotPublished),
        ("base inactive", BaseModelNotActive),
        ("endpoint inactive", EndpointNotActive),
    ],
)
async def test_a_model_that_stopped_being_runnable_elsewhere_refuses_at_once(
    change: str, error: type[Exception]
) -> None:
    w = await make_world()
    await warm(w)
    catalog, studio = elsewhere(w)
    if change == "unpublished":
        await studio.update(w.developer.id, w.model.id, {"status": TarsModelStatus.ARCHIVED})
    elif change == "base inactive":
        await catalog.deactivate_base_model(w.base.id)
    else:
        await catalog.deactivate_endpoint(w.endpoint.id)
    submitted = len(w.gpu.submitted)
    with pytest.raises(error):
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert await w.count_executions() == 1 and len(w.gpu.submitted) == submitted


async def test_a_base_model_moved_elsewhere_runs_on_its_new_endpoint() -> None:
    w = await make_world()
    await warm(w)
    catalog, _ = elsewhere(w)
    new = await catalog.create_endpoint(
        NewEndpoint(provider_endpoint_id="rp-moved", name="New", gpu_type="A100")
    )
    await catalog.update_base_model(w.base.id, {"endpoint_id": new.id})
    result = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert result.view.execution.endpoint_id == new.id
    assert w.gpu.submitted[-1].endpoint_id == "rp-moved"
    assert await w.count_executions() == 2


async def test_a_configuration_changed_elsewhere_applies_within_the_ttl() -> None:
    clock = ManualClock()
    w = await make_world(clock, settings=EngineSettings(run_target_ttl_s=1.0))
    await warm(w)
    _, studio = elsewhere(w)
    await studio.update(
        w.developer.id, w.model.id, {"config_overrides": ConfigOverrides(prompt_prefix="new: ")}
    )
    kept = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert w.gpu.submitted[-1].input["prompt"] == "art: x"  # this process's copy
    clock.advance(1.0)
    fresh = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert w.gpu.submitted[-1].input["prompt"] == "new: x"
    assert kept.view.execution.status is fresh.view.execution.status is ExecutionStatus.QUEUED


async def test_a_change_in_this_process_applies_at_once() -> None:
    w = await make_world()
    await warm(w)
    await w.studio.update(
        w.developer.id, w.model.id, {"config_overrides": ConfigOverrides(prompt_prefix="new: ")}
    )
    await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert w.gpu.submitted[-1].input["prompt"] == "new: x"


async def test_the_limit_refuses_with_retry_after_from_the_estimate() -> None:
    w = await make_world(settings=EngineSettings(max_active_executions=2))
    for _ in range(2):
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    with pytest.raises(TooManyActiveExecutions) as refused:
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert refused.value.retry_after == 30  # the base model's estimate
    assert refused.value.details == {"limit": 2, "retryAfterSeconds": 30}
    assert await w.count_executions() == 2
    # Another consumer has a limit of its own.
    await w.executions.run(RunRequest(w.bob.id, w.model.slug, {"prompt": "x"}))


async def test_a_refusal_the_catalog_cannot_explain_is_a_conflict_not_a_limit() -> None:
    """No limit applies and the model reads as runnable, yet the insert refused twice:
    the catalog changed between the statements. The run is refused (nothing stored)."""
    w = await make_world()
    tries = 0

    async def refused(*_: Any) -> bool:
        nonlocal tries
        tries += 1
        return False

    w.executions._insert = refused  # type: ignore[method-assign]
    with pytest.raises(Conflict, match="send it again"):
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert tries == 2 and await w.count_executions() == 0
