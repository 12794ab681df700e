"""``StoredJson``: a listed execution's input and output go from the database to the
answer as stored text, decoded only when something must look inside."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from adapters.blobs.memory import MemoryBlobStore
from adapters.memory.downloads import FakeDownloader
from entrypoints.http import render
from tarsify.domain.execution import Execution, ExecutionView
from tarsify.domain.jsonsafe import StoredJson
from tarsify.domain.models import ExecutionStatus
from tarsify.services.files import OutputFiles

EXECUTION = uuid.UUID("0b6f0a46-35d8-4d4a-9a43-5b1d5c5e3f10")
AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_it_decodes_once_and_compares_as_its_value() -> None:
    stored = StoredJson('{"text": "hi", "n": [1, 2]}')
    assert stored.value == {"text": "hi", "n": [1, 2]}
    assert stored.value is stored.value  # decoded once
    assert stored == {"n": [1, 2], "text": "hi"}
    assert stored != {"text": "hi"}
    assert stored == StoredJson('{"n":[1,2],"text":"hi"}')
    assert stored != StoredJson('{"text": "bye"}')
    with pytest.raises(TypeError):
        hash(stored)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"text": "no reference"}', False),
        ('{"$file": "executions/x/0.png"}', True),
        ('{"\\u0024file": "k"}', True),  # an escape could spell it: look inside
        ('"dollar $fil e"', False),
    ],
)
def test_it_tells_when_a_text_cannot_be_inside(text: str, expected: bool) -> None:
    assert StoredJson(text).may_contain("$file") is expected


def view(output: object, inputs: object = None) -> ExecutionView:
    execution = Execution(
        id=EXECUTION,
        consumer_id=uuid.uuid4(),
        tars_model_id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        created_at=AT,
        updated_at=AT,
        status=ExecutionStatus.COMPLETED,
        consumer_input=inputs,  # type: ignore[arg-type]
        output_payload=output,
    )
    return ExecutionView(execution, "m", "M")


def test_the_answer_carries_the_stored_text_as_it_is() -> None:
    stored_output = StoredJson('{"text": "a \\u00e9 b", "big": 123456789012345678901234567890}')
    document = render.execution(view(stored_output, StoredJson('{"prompt": "x"}')))
    body = render.dumps(document)
    assert b'"output":{"text": "a \\u00e9 b", "big": 123456789012345678901234567890}' in body
    assert b'"input":{"prompt": "x"}' in body
    decoded = json.loads(body)
    assert decoded["output"]["big"] == 123456789012345678901234567890


def test_the_fallback_encoder_decodes_it() -> None:
    """An integer beyond 64 bits elsewhere sends the document to the standard library,
    which writes the stored documents' values."""
    document = render.execution(view(StoredJson('{"n": 1}'), {"seed": 2**70}))
    assert orjson.loads(render.dumps(document))["output"] == {"n": 1}
    assert json.loads(render.dumps(document))["input"] == {"seed": 2**70}


async def test_links_are_made_only_where_a_reference_may_be() -> None:
    blobs = MemoryBlobStore()
    files = OutputFiles(blobs, FakeDownloader(), url_ttl_s=600)
    plain = StoredJson('{"text": "no files"}')
    assert await files.render(EXECUTION, plain) is plain
    key = f"executions/{EXECUTION}/0.png"
    await blobs.put(key, b"\x89PNG", "image/png")
    with_file = StoredJson(json.dumps({"images": [{"$file": key}]}))
    rendered = await files.render(EXECUTION, with_file)
    [url] = rendered["images"]
    assert url == await blobs.url(key, 600)
