"""OutputFiles on fakes: offloading inline and downloaded files, and rendering links."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.blobs.memory import MemoryBlobStore
from adapters.memory.downloads import FakeDownloader
from tarsify.domain.errors import BlobStoreUnavailable, OutputDownloadFailed
from tarsify.domain.files import FileRecord
from tarsify.domain.models import BaseModel, ModelCategory, OutputType
from tarsify.ports.files import Download
from tarsify.services.files import OutputFiles

EXECUTION = uuid.UUID("0b6f0a46-35d8-4d4a-9a43-5b1d5c5e3f10")
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(1_500_000)
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(4000)


def base_model(output_type: OutputType, output_format: str = "png") -> BaseModel:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return BaseModel(
        id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        slug="m",
        name="M",
        category=ModelCategory.IMAGE,
        input_schema={"type": "object"},
        output_type=output_type,
        output_format=output_format,
        created_at=now,
        updated_at=now,
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def blobs() -> MemoryBlobStore:
    return MemoryBlobStore()


@pytest.fixture
def downloads() -> FakeDownloader:
    return FakeDownloader()


@pytest.fixture
def files(blobs: MemoryBlobStore, downloads: FakeDownloader) -> OutputFiles:
    return OutputFiles(blobs, downloads, url_ttl_s=600)


async def test_a_large_png_leaves_a_tiny_output(files: OutputFiles, blobs: MemoryBlobStore) -> None:
    output = {"images": [f"data:image/png;base64,{b64(PNG)}"], "seed": 42}
    new_output, records = await files.offload(EXECUTION, output, base_model(OutputType.IMAGE))
    key = f"executions/{EXECUTION}/0.png"
    assert new_output == {"images": [{"$file": key}], "seed": 42}
    assert len(json.dumps(new_output)) < 200
    digest = hashlib.sha256(PNG).hexdigest()
    assert records == [FileRecord(key, "image/png", len(PNG), digest)]
    stored, content_type = blobs.files[key]
    assert hashlib.sha256(stored).hexdigest() == digest
    assert content_type == "image/png"


async def test_every_file_gets_its_own_key_in_document_order(
    files: OutputFiles, blobs: MemoryBlobStore
) -> None:
    output = {"audio_base64": b64(WAV), "images": [b64(PNG[:5000]), "caption"]}
    new_output, records = await files.offload(EXECUTION, output, base_model(OutputType.AUDIO))
    prefix = f"executions/{EXECUTION}/"
    assert [r.key for r in records] == [f"{prefix}0.wav", f"{prefix}1.png"]
    assert new_output == {
        "audio_base64": {"$file": f"{prefix}0.wav"},
        "images": [{"$file": f"{prefix}1.png"}, "caption"],
    }
    assert set(blobs.files) == {f"{prefix}0.wav", f"{prefix}1.png"}


async def test_urls_are_downloaded_and_stored(
    files: OutputFiles, blobs: MemoryBlobStore, downloads: FakeDownloader
) -> None:
    url = "https://provider.example/out/a?token=secret"
    downloads.files[url] = Download(WAV, "application/octet-stream")
    downloads.files["https://provider.example/b"] = Download(b"%PDF-1.7 ...", None)
    output = {"audio_url": url, "file_url": "https://provider.example/b"}
    new_output, records = await files.offload(EXECUTION, output, base_model(OutputType.FILE))
    assert downloads.fetched == [url, "https://provider.example/b"]
    assert [(r.content_type, r.size) for r in records] == [
        ("audio/wav", len(WAV)),
        ("application/pdf", 12),
    ]
    assert blobs.files[records[0].key][0] == WAV
    assert new_output["audio_url"] == {"$file": records[0].key}


async def test_a_failed_download_raises_a_clear_error(
    files: OutputFiles, blobs: MemoryBlobStore
) -> None:
    output = {"audio_url": "https://provider.example/expired"}
    with pytest.raises(OutputDownloadFailed) as caught:
        await files.offload(EXECUTION, output, base_model(OutputType.AUDIO))
    assert caught.value.failure_code == "OUTPUT_DOWNLOAD_FAILED"
    assert "404" in caught.value.message
    assert blobs.files == {}


async def test_a_store_that_is_down_propagates_and_a_retry_overwrites(
    files: OutputFiles, blobs: MemoryBlobStore
) -> None:
    output = {"images": [b64(PNG[:4000]), b64(PNG[:6000])]}
    model = base_model(OutputType.IMAGE)
    blobs.down = True
    with pytest.raises(BlobStoreUnavailable):
        await files.offload(EXECUTION, output, model)
    blobs.down = False
    first, _ = await files.offload(EXECUTION, output, model)
    again, records = await files.offload(EXECUTION, output, model)
    assert first == again
    assert len(blobs.files) == 2 == len(records)


async def test_an_output_without_files_is_returned_as_is(files: OutputFiles) -> None:
    output: Any = {"text": "hello", "tokens": 3}
    new_output, records = await files.offload(EXECUTION, output, base_model(OutputType.TEXT))
    assert new_output is output
    assert records == []


async def test_render_gives_signed_links_for_the_executions_own_files(
    files: OutputFiles, blobs: MemoryBlobStore
) -> None:
    output = {"images": [f"data:image/png;base64,{b64(PNG[:3000])}"]}
    stored, _ = await files.offload(EXECUTION, output, base_model(OutputType.IMAGE))
    foreign = {"$file": f"executions/{uuid.uuid4()}/0.png"}
    shown = await files.render(EXECUTION, {**stored, "other": foreign})
    assert shown["other"] == foreign  # another execution's file is never linked
    url = shown["images"][0]
    parts = urlsplit(url)
    assert parts.path == f"/files/executions/{EXECUTION}/0.png"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    key = parts.path.removeprefix("/files/")
    assert blobs.signer.verify(key, query["expires"], query["sig"])
    assert not blobs.signer.verify(key.replace("0.png", "1.png"), query["expires"], query["sig"])
