"""Moving inline outputs of existing rows into the file store, and the retention sweep."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from adapters.blobs.memory import MemoryBlobStore
from adapters.blobs.signing import FileUrlSigner
from adapters.memory.clock import ManualClock
from adapters.memory.downloads import FakeDownloader
from tarsify.domain.errors import BlobNotFound
from tarsify.domain.models import ExecutionStatus
from tarsify.services.file_upkeep import FileUpkeep
from tarsify.services.files import OutputFiles
from tests.contract.engine_world import EAGER, Db, sql_world, start

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(200))


async def test_inline_outputs_are_moved_once_and_the_scan_can_resume(db: Db) -> None:
    clock = ManualClock()
    w = await sql_world(db, clock=clock, settings=EAGER)  # an engine without a file store
    inline = "data:image/png;base64," + base64.b64encode(PNG).decode()
    done = []
    for i in range(5):
        e = await start(w)
        w.gpu.set_status(e.provider_job_id, "COMPLETED", output={"images": [inline], "n": i})
        done.append(e)
    text_only = await start(w)
    w.gpu.set_status(text_only.provider_job_id, "COMPLETED", output={"text": "hello"})
    await w.reconciler.run_once()
    assert (await w.stored(done[0].id)).output_payload["images"] == [inline]
    blobs = MemoryBlobStore(FileUrlSigner("s" * 32, "http://tarsify.test"))
    upkeep = FileUpkeep(w.store.unit_of_work, OutputFiles(blobs, FakeDownloader()), blobs, clock)
    seen: list[tuple[int, int]] = []
    first = await upkeep.offload_inline(batch=2, progress=lambda s, m: seen.append((s, m)))
    assert (first.scanned, first.moved, first.files) == (6, 5, 5)
    assert seen[-1] == (6, 5) and len(seen) == 3  # one line per batch of two
    for i, e in enumerate(done):
        stored = await w.stored(e.id)
        assert stored.status is ExecutionStatus.COMPLETED
        assert stored.output_payload == {"images": [{"$file": f"executions/{e.id}/0.png"}], "n": i}
        assert await blobs.read(f"executions/{e.id}/0.png") == PNG
    assert (await w.stored(text_only.id)).output_payload == {"text": "hello"}
    again = await upkeep.offload_inline()
    assert (again.scanned, again.moved, again.files) == (6, 0, 0)


async def test_files_past_their_retention_are_deleted_and_leave_null(db: Db) -> None:
    clock = ManualClock()
    blobs = MemoryBlobStore(FileUrlSigner("s" * 32, "http://tarsify.test"))
    files = OutputFiles(blobs, FakeDownloader())
    w = await sql_world(db, clock=clock, settings=EAGER, files=files)
    inline = "data:image/png;base64," + base64.b64encode(PNG).decode()
    old = await start(w)
    w.gpu.set_status(old.provider_job_id, "COMPLETED", output={"images": [inline], "seed": 1})
    await w.reconciler.run_once()
    clock.advance(timedelta(days=20).total_seconds())
    recent = await start(w)
    w.gpu.set_status(recent.provider_job_id, "COMPLETED", output={"images": [inline]})
    await w.reconciler.run_once()
    upkeep = FileUpkeep(w.store.unit_of_work, files, blobs, clock)
    assert await upkeep.purge(retention_days=30) == 0
    assert await upkeep.purge(retention_days=10) == 1
    assert await upkeep.purge(retention_days=10) == 0
    assert (await w.stored(old.id)).output_payload == {"images": [None], "seed": 1}
    old_key = f"executions/{old.id}/0.png"
    with pytest.raises(BlobNotFound):
        await blobs.read(old_key)
    assert await blobs.read(f"executions/{recent.id}/0.png") == PNG
    async with w.store.unit_of_work() as uow:
        assert await uow.files.list_for_execution(old.id) == []
        assert len(await uow.files.list_for_execution(recent.id)) == 1
