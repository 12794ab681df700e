"""Jobs held open by the process that sent them (``HeldStreamProvider``): that process
takes the stream lease as it sends the job and keeps it while the job lives, so no other
process asks about the job; once the holder is gone (its lease expired) the job is lost;
announcements read the job's chunks, and a job whose execution ended is closed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from tarsify.domain.errors import ProviderJobNotFound
from tarsify.domain.execution import Execution
from tarsify.domain.failures import Failure
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.run_request import RunRequest
from tarsify.ports.provider import HeldStreamProvider, JobReport
from tarsify.services.engine.held_streams import HeldStreamPump
from tarsify.services.engine.settings import EngineSettings
from tarsify.services.engine.streaming import LEASE_S
from tests.unit.test_stream_files import StreamingFake
from tests.unit.world import World, make_world

EAGER = EngineSettings(poll_min_interval_s=0.0)


class HeldFake(StreamingFake):
    """The streaming fake whose jobs are held by one of several processes: ``here`` is
    the holder this instance plays; a job held by another is unknown to it."""

    def __init__(self) -> None:
        super().__init__()
        self.here = "p1"
        self.holder: dict[str, str] = {}
        self.closed: list[str] = []
        self.announced: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def submit(self, request: Any) -> JobReport:
        report = await super().submit(request)
        self.holder[report.job_id] = self.here
        return report

    def holds(self, endpoint_id: str, job_id: str) -> bool:
        return self.holder.get(job_id) == self.here

    def _mine(self, job_id: str) -> None:
        if not self.holds("", job_id):
            raise ProviderJobNotFound("held by another process")

    async def stream(self, endpoint_id: str, job_id: str) -> JobReport:
        self._mine(job_id)
        return await super().stream(endpoint_id, job_id)

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        self._mine(job_id)
        return await super().status(endpoint_id, job_id)

    async def cancel(self, endpoint_id: str, job_id: str) -> JobReport:
        self._mine(job_id)
        self.closed.append(job_id)
        return await super().cancel(endpoint_id, job_id)

    async def news(self) -> AsyncIterator[tuple[str, str]]:
        while True:
            yield await self.announced.get()


async def held_world() -> tuple[World, HeldFake]:
    gpu = HeldFake()
    w = await make_world(gpu=gpu, settings=EAGER)
    await w.catalog.update_base_model(w.base.id, {"streaming": True})
    return w, gpu


async def start(w: World, gpu: HeldFake) -> Execution:
    result = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    execution = result.view.execution
    assert execution.provider_job_id is not None
    gpu.set_status(execution.provider_job_id, "IN_PROGRESS")
    return execution


async def lease(w: World, execution_id: uuid.UUID, token: str = "other") -> bool:
    """Whether another reader (``token``) could take the stream lease now."""
    now = w.clock.now()
    async with w.store.unit_of_work() as uow:
        taken = await uow.chunks.claim_reader(
            execution_id, token, now, now + timedelta(seconds=LEASE_S)
        )
        if taken:
            await uow.chunks.release_reader(execution_id, token)
        await uow.commit()
    return taken


async def chunks(w: World, execution_id: uuid.UUID) -> list[Any]:
    async with w.store.unit_of_work() as uow:
        return [c.value for c in await uow.chunks.after(execution_id, 0, 100)]


def test_the_fake_is_a_held_stream_provider() -> None:
    assert isinstance(HeldFake(), HeldStreamProvider)


async def test_the_holder_takes_the_lease_as_it_sends_and_keeps_it_across_reads() -> None:
    w, gpu = await held_world()
    e = await start(w, gpu)
    job = e.provider_job_id
    assert job is not None
    assert not await lease(w, e.id)  # taken with the submit, before anyone could read
    gpu.yielded[job] = ["Once ", "upon "]
    await w.executions.read_stream(e)
    assert await chunks(w, e.id) == ["Once ", "upon "]
    assert not await lease(w, e.id)  # kept (renewed) after the read
    # Renewed by each read: still held just before the first lease would have expired.
    w.clock.advance(LEASE_S - 1)  # type: ignore[attr-defined]
    gpu.yielded[job] = ["a time"]
    await w.executions.read_stream(await w.stored(e.id))
    w.clock.advance(2)  # type: ignore[attr-defined]
    assert not await lease(w, e.id)
    # The end: the last chunks, the output, and the lease given back.
    gpu.set_status(job, "COMPLETED", output=None)
    await w.executions.read_stream(await w.stored(e.id))
    done = await w.stored(e.id)
    assert done.status is ExecutionStatus.COMPLETED
    assert done.output_payload == ["Once ", "upon ", "a time"]


async def test_another_process_leaves_a_held_job_alone_while_its_holder_lives() -> None:
    w, gpu = await held_world()
    e = await start(w, gpu)
    gpu.here = "p2"  # the same store, seen from another process
    assert not gpu.holds("", e.provider_job_id or "")
    after = await w.executions.read_stream(e)
    assert not after.is_terminal and gpu.stream_reads == 0


async def test_once_the_holder_is_gone_its_lease_expires_and_the_job_is_lost() -> None:
    w, gpu = await held_world()
    e = await start(w, gpu)
    gpu.here = "p2"
    w.clock.advance(LEASE_S + 1)  # type: ignore[attr-defined]
    await w.executions.read_stream(await w.stored(e.id))
    lost = await w.stored(e.id)
    assert lost.status is ExecutionStatus.FAILED
    assert lost.error_code == Failure.JOB_LOST.code


async def test_an_announcement_reads_the_job_and_an_ended_execution_closes_it() -> None:
    w, gpu = await held_world()
    pump = HeldStreamPump(w.store.unit_of_work, gpu, w.executions.read_stream)
    e = await start(w, gpu)
    job = e.provider_job_id
    assert job is not None
    gpu.yielded[job] = ["tok"]
    read = await pump.handle("ep", job)
    assert read is not None and read.chunks == 1
    assert await chunks(w, e.id) == ["tok"]
    assert await pump.handle("ep", "no-such-job") is None  # not recorded yet: later
    await w.executions.cancel(w.alice.id, e.id)
    assert (await w.stored(e.id)).status is ExecutionStatus.CANCELLED
    gpu.closed.clear()
    ended = await pump.handle("ep", job)
    assert ended is not None and ended.is_terminal
    assert gpu.closed == [job]  # the connection is closed by its holder


async def test_the_pump_goes_on_after_a_failed_announcement() -> None:
    w, gpu = await held_world()
    pump = HeldStreamPump(w.store.unit_of_work, gpu, w.executions.read_stream)
    e = await start(w, gpu)
    job = e.provider_job_id
    assert job is not None
    gpu.yielded[job] = ["late"]
    calls = 0
    real = pump.handle

    async def flaky(endpoint_id: str, job_id: str) -> Execution | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("storage hiccup")
        return await real(endpoint_id, job_id)

    pump.handle = flaky  # type: ignore[method-assign]
    task = asyncio.create_task(pump.run())
    await gpu.announced.put(("ep", job))
    await gpu.announced.put(("ep", job))
    for _ in range(100):
        if await chunks(w, e.id):
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert await chunks(w, e.id) == ["late"] and calls == 2
