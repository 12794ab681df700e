"""Streamed chunks that hold files go through the blob store (a blob store that is down
delays them, loses none), and a running streaming job's progress is read."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any

from adapters.blobs.memory import MemoryBlobStore
from adapters.blobs.signing import FileUrlSigner
from adapters.memory.downloads import FakeDownloader
from adapters.memory.gpu import FakeGpuProvider
from adapters.providers.simulator.media import png_bytes, png_data_uri
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.run_request import RunRequest
from tarsify.ports.files import Download
from tarsify.ports.provider import JobReport
from tarsify.services.engine.settings import EngineSettings
from tarsify.services.files import OutputFiles
from tests.unit.world import World, make_world

EAGER = EngineSettings(poll_min_interval_s=0.0)
PREVIEW_URL = "https://provider.example/previews/1.png?X-Amz-Signature=abc"


class StreamingFake(FakeGpuProvider):
    """The fake with generator handlers: ``yielded[job]`` is consumed by ``stream``;
    ``progress[job]`` is what ``status`` reports while the job runs."""

    def __init__(self) -> None:
        super().__init__()
        self.yielded: dict[str, list[Any]] = defaultdict(list)
        self.progress: dict[str, Any] = {}
        self.stream_reads = 0

    async def stream(self, endpoint_id: str, job_id: str) -> JobReport:
        self.stream_reads += 1
        job = self.jobs[job_id]
        chunks, self.yielded[job_id] = self.yielded[job_id], []
        return JobReport(job_id=job_id, status=job.status, chunks=tuple(chunks))

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        report = await super().status(endpoint_id, job_id)
        if report.status == "IN_PROGRESS":
            return JobReport(job_id, report.status, progress=self.progress.get(job_id))
        return report


async def streaming_world() -> tuple[World, StreamingFake, MemoryBlobStore, FakeDownloader]:
    gpu = StreamingFake()
    blobs = MemoryBlobStore(FileUrlSigner("s" * 32, "http://tarsify.test"))
    downloader = FakeDownloader()
    files = OutputFiles(blobs, downloader, 3600)
    w = await make_world(gpu=gpu, files=files, settings=EAGER)
    await w.catalog.update_base_model(w.base.id, {"streaming": True})
    return w, gpu, blobs, downloader


async def start(w: World, gpu: StreamingFake) -> Execution:
    result = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    execution = result.view.execution
    assert execution.provider_job_id is not None
    gpu.set_status(execution.provider_job_id, "IN_PROGRESS")
    return execution


async def stored_chunks(w: World, execution_id: uuid.UUID) -> list[Any]:
    async with w.store.unit_of_work() as uow:
        return [c.value for c in await uow.chunks.after(execution_id, 0, 100)]


async def test_image_chunks_are_stored_as_references_and_render_as_signed_links() -> None:
    w, gpu, blobs, downloader = await streaming_world()
    e = await start(w, gpu)
    job = e.provider_job_id
    assert job is not None
    downloader.files[PREVIEW_URL] = Download(png_bytes(9), "image/png")
    gpu.yielded[job] = [
        {"step": 1, "image": png_data_uri(1)},
        "plain text stays as it is",
        {"step": 2, "image_url": PREVIEW_URL},
    ]
    await w.executions.read_stream(e)
    chunks = await stored_chunks(w, e.id)
    assert "base64" not in json.dumps(chunks) and "provider.example" not in json.dumps(chunks)
    assert chunks == [
        {"step": 1, "image": {"$file": f"executions/{e.id}/chunks/1-0.png"}},
        "plain text stays as it is",
        {"step": 2, "image_url": {"$file": f"executions/{e.id}/chunks/3-0.png"}},
    ]
    assert await blobs.read(f"executions/{e.id}/chunks/1-0.png") == png_bytes(1)
    assert await blobs.read(f"executions/{e.id}/chunks/3-0.png") == png_bytes(9)
    rendered = await w.files.render(e.id, chunks[0]) if w.files else None
    assert rendered is not None
    assert rendered["image"].startswith(f"http://tarsify.test/files/executions/{e.id}/chunks/")
    async with w.store.unit_of_work() as uow:
        recorded = await uow.files.list_for_execution(e.id)
    assert sorted(f.key for f in recorded) == [
        f"executions/{e.id}/chunks/1-0.png",
        f"executions/{e.id}/chunks/3-0.png",
    ]
    # The job ends; the final output (the list of chunks) holds references only.
    gpu.set_status(job, "COMPLETED", output=None)
    await w.executions.read_stream(await w.stored(e.id))
    done = await w.stored(e.id)
    assert done.status is ExecutionStatus.COMPLETED and done.output_payload == chunks


async def test_a_blob_store_that_is_down_holds_chunks_in_order_and_delays_the_end() -> None:
    w, gpu, blobs, _ = await streaming_world()
    e = await start(w, gpu)
    job = e.provider_job_id
    assert job is not None
    gpu.yielded[job] = ["a", {"image": png_data_uri(1)}]
    blobs.down = True
    await w.executions.read_stream(e)
    assert await stored_chunks(w, e.id) == []  # held, never shown with inline data
    assert (await w.stored(e.id)).chunks == 0
    # More chunks, and the end, while the store is still down: nothing is finished.
    gpu.yielded[job] = ["b"]
    gpu.set_status(job, "COMPLETED", output=None)
    waiting = await w.executions.read_stream(await w.stored(e.id))
    assert waiting.status is ExecutionStatus.RUNNING
    assert waiting.pending_reason is not None and waiting.pending_reason.value == "FILES_UNSTORED"
    assert await stored_chunks(w, e.id) == []
    blobs.down = False
    await w.executions.read_stream(await w.stored(e.id))
    done = await w.stored(e.id)
    expected = ["a", {"image": {"$file": f"executions/{e.id}/chunks/2-0.png"}}, "b"]
    assert await stored_chunks(w, e.id) == expected
    assert done.status is ExecutionStatus.COMPLETED and done.output_payload == expected
    assert done.pending_reason is None
    assert await blobs.read(f"executions/{e.id}/chunks/2-0.png") == png_bytes(1)


async def test_a_preview_that_cannot_be_downloaded_is_null_and_the_run_goes_on() -> None:
    w, gpu, _, _ = await streaming_world()
    e = await start(w, gpu)
    assert e.provider_job_id is not None
    gpu.yielded[e.provider_job_id] = [{"image_url": PREVIEW_URL, "step": 1}]
    await w.executions.read_stream(e)
    assert await stored_chunks(w, e.id) == [{"image_url": None, "step": 1}]
    assert (await w.stored(e.id)).status is ExecutionStatus.RUNNING


async def test_a_streaming_jobs_progress_is_read_at_each_poll_without_its_end() -> None:
    w, gpu, _, _ = await streaming_world()
    e = await start(w, gpu)
    job = e.provider_job_id
    assert job is not None
    gpu.progress[job] = {"percent": 30}
    gpu.yielded[job] = ["a"]
    view = await w.executions.get(w.alice.id, e.id)  # a status poll
    assert view.execution.progress == {"percent": 30}
    assert view.execution.status is ExecutionStatus.RUNNING
    assert await stored_chunks(w, e.id) == ["a"]
    # ``status`` says the job ended while chunks are still unread: only the stream's
    # read may record the end, with every chunk.
    gpu.yielded[job] = ["b"]
    gpu.set_status(job, "COMPLETED", output=None)
    reads = gpu.stream_reads
    dispatcher = w.dispatcher
    assert dispatcher._streams is not None
    endpoint = w.endpoint.provider_endpoint_id
    after = await dispatcher._streams.progress(await w.stored(e.id), endpoint)
    assert after.status is ExecutionStatus.RUNNING and gpu.stream_reads == reads
    assert gpu.yielded[job] == ["b"]  # nothing consumed
    done = (await w.executions.get(w.alice.id, e.id)).execution
    assert done.status is ExecutionStatus.COMPLETED and done.output_payload == ["a", "b"]
