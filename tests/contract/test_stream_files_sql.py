"""Streamed chunks with files on SQL storage: chunks held (``stream_readers.held``)
while the blob store is down are stored in order once it is back."""

from __future__ import annotations

from adapters.blobs.memory import MemoryBlobStore
from adapters.blobs.signing import FileUrlSigner
from adapters.memory.downloads import FakeDownloader
from adapters.providers.simulator.media import png_bytes, png_data_uri
from tarsify.domain.models import ExecutionStatus
from tarsify.services.files import OutputFiles
from tests.contract.engine_world import EAGER, Db, sql_world, start
from tests.unit.test_stream_files import StreamingFake


async def test_chunks_held_while_the_blob_store_is_down_are_stored_in_order(db: Db) -> None:
    gpu = StreamingFake()
    blobs = MemoryBlobStore(FileUrlSigner("s" * 32, "http://tarsify.test"))
    w = await sql_world(
        db, settings=EAGER, gpu=gpu, files=OutputFiles(blobs, FakeDownloader(), 3600)
    )
    await w.catalog.update_base_model(w.base.id, {"streaming": True})
    e = await start(w)
    job = e.provider_job_id
    assert job is not None
    gpu.set_status(job, "IN_PROGRESS")
    gpu.yielded[job] = ["a", {"image": png_data_uri(1)}]
    blobs.down = True
    await w.executions.read_stream(e)
    async with w.store.unit_of_work() as uow:
        assert await uow.chunks.after(e.id, 0, 10) == []
        assert await uow.chunks.held(e.id) == ["a", {"image": png_data_uri(1)}]
    gpu.yielded[job] = ["b"]
    blobs.down = False
    await w.executions.read_stream(await w.stored(e.id))
    expected = ["a", {"image": {"$file": f"executions/{e.id}/chunks/2-0.png"}}, "b"]
    async with w.store.unit_of_work() as uow:
        assert [c.value for c in await uow.chunks.after(e.id, 0, 10)] == expected
        assert [c.seq for c in await uow.chunks.after(e.id, 0, 10)] == [1, 2, 3]
        assert await uow.chunks.held(e.id) == []
        recorded = await uow.files.list_for_execution(e.id)
    assert [f.key for f in recorded] == [f"executions/{e.id}/chunks/2-0.png"]
    assert await blobs.read(recorded[0].key) == png_bytes(1)
    gpu.set_status(job, "COMPLETED", output=None)
    await w.executions.read_stream(await w.stored(e.id))
    done = await w.stored(e.id)
    assert done.status is ExecutionStatus.COMPLETED and done.output_payload == expected
