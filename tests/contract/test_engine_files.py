"""Output files: stored before COMPLETED, kept out of the database, served back intact."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import zlib
from typing import Any

from sqlalchemy import text

from adapters.blobs.memory import MemoryBlobStore
from adapters.blobs.signing import FileUrlSigner
from adapters.memory.clock import ManualClock
from adapters.memory.downloads import FakeDownloader
from entrypoints.http.envelope import ok_page_fast
from entrypoints.http.schemas_executions import execution_document
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import PageRequest
from tarsify.ports.files import Download
from tarsify.services.files import OutputFiles
from tests.contract.engine_world import EAGER, Db, sql_world, start


def big_png(size: int) -> bytes:
    """A valid PNG of about ``size`` bytes (incompressible pixels, like a photo)."""
    side = int((size / 3) ** 0.5) + 1
    raw = b"".join(b"\x00" + os.urandom(side * 3) for _ in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def files_of(blobs: MemoryBlobStore | None = None) -> tuple[OutputFiles, MemoryBlobStore, Any]:
    store = blobs or MemoryBlobStore(FileUrlSigner("s" * 32, "http://tarsify.test"))
    downloader = FakeDownloader()
    return OutputFiles(store, downloader, 3600), store, downloader


async def test_a_history_page_of_sdxl_sized_images_stays_small(db: Db) -> None:
    files, blobs, _ = files_of()
    w = await sql_world(db, settings=EAGER, files=files)
    pngs = {}
    for i in range(20):
        e = await start(w)
        png = big_png(1_500_000) if i < 2 else big_png(1_500_000)[:0] or big_png(40_000)
        pngs[e.id] = png
        w.gpu.set_status(
            e.provider_job_id, "COMPLETED", output={"images": [data_uri(png)], "seed": i}
        )
    await w.reconciler.run_once()
    page = await w.executions.list(w.alice.id, PageRequest(limit=20))
    assert [v.status for v in page.items] == [ExecutionStatus.COMPLETED] * 20
    documents = []
    for view in page.items:
        output = await files.render(view.id, view.output_payload)
        documents.append(execution_document(view, output))
    body = ok_page_fast(page, documents, 20).body
    assert body is not None and len(body) < 20_000, len(body)
    shown = json.loads(body)["data"]  # as answered: stored outputs pass through as text
    assert [d["id"] for d in shown] == [d["id"] for d in documents]
    for document in shown:
        url = document["output"]["images"][0]
        assert url.startswith("http://tarsify.test/files/executions/")
        key = url.split("/files/", 1)[1].split("?", 1)[0]
        stored = await blobs.read(key)
        expected = next(png for i, png in pngs.items() if str(i) == document["id"])
        assert hashlib.sha256(stored).digest() == hashlib.sha256(expected).digest()
        assert document["output"]["seed"] is not None  # non-file values stay inline
    # The rows hold references, never file bytes.
    engine = db.store().sessions  # type: ignore[attr-defined]
    async with engine.engine.connect() as connection:  # type: ignore[attr-defined]
        biggest = await connection.scalar(
            text("SELECT max(length(CAST(output_payload AS TEXT))) FROM executions")
        )
        recorded = await connection.scalar(text("SELECT count(*) FROM execution_files"))
    assert biggest < 200 and recorded == 20


async def test_a_blob_store_that_is_down_delays_completion_and_loses_nothing(db: Db) -> None:
    files, blobs, _ = files_of()
    w = await sql_world(db, settings=EAGER, files=files)
    e = await start(w)
    png = big_png(5_000)
    w.gpu.set_status(e.provider_job_id, "COMPLETED", output={"images": [data_uri(png)]})
    blobs.down = True
    report = await w.reconciler.run_once()
    assert report.errors == 0  # not a failure of the execution: the store will be back
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.QUEUED and stored.output_payload is None
    view = await w.executions.get(w.alice.id, e.id)
    assert view.execution.status is not ExecutionStatus.COMPLETED  # never COMPLETED without files
    # ... but the wait is shown, and recorded once however often it is tried again.
    waiting = execution_document(view)["pendingReason"]
    assert waiting is not None and waiting["code"] == "FILES_UNSTORED"
    await w.reconciler.run_once()
    assert (await w.stored(e.id)).version == stored.version
    blobs.down = False
    await w.reconciler.run_once()
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.COMPLETED and stored.pending_reason is None
    assert execution_document(await w.executions.get(w.alice.id, e.id))["pendingReason"] is None
    assert stored.output_payload == {"images": [{"$file": f"executions/{e.id}/0.png"}]}
    assert await blobs.read(f"executions/{e.id}/0.png") == png


async def test_provider_urls_are_copied_and_a_failed_download_fails_the_execution(
    db: Db,
) -> None:
    files, blobs, downloader = files_of()
    clock = ManualClock()
    w = await sql_world(db, clock=clock, settings=EAGER, files=files)
    good, bad = await start(w), await start(w)
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40
    downloader.files["https://worker.example/out.wav?X-Amz-Signature=abc"] = Download(
        wav, "audio/wav"
    )
    w.gpu.set_status(
        good.provider_job_id,
        "COMPLETED",
        output={"image_url": "https://worker.example/out.wav?X-Amz-Signature=abc"},
    )
    w.gpu.set_status(
        bad.provider_job_id, "COMPLETED", output={"image_url": "https://worker.example/gone.png"}
    )
    await w.reconciler.run_once()
    ok = await w.stored(good.id)
    assert ok.status is ExecutionStatus.COMPLETED
    [key] = [ok.output_payload["image_url"]["$file"]]
    assert await blobs.read(key) == wav
    failed = await w.stored(bad.id)
    assert (failed.status, failed.error_code) == (ExecutionStatus.FAILED, "OUTPUT_DOWNLOAD_FAILED")
    assert "HTTP 404" in (failed.error_message or "")
    assert json.dumps(failed.output_payload) == "null"
