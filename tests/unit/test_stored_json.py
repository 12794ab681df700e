"""``StoredJson``: a listed execution's input and output go from the database to the
answer as stored text, decoded only when something must look inside."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from adapters.blobs.memory import MemoryBlobStore
from adapters.memory.downloads import FakeDownloader
from entrypoints.http.encoding import dumps
from entrypoints.http.schemas_executions import execution_document
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
    document = execution_document(view(stored_output, StoredJson('{"prompt": "x"}')))
    body = dumps(document)
    assert b'"output":{"text": "a \\u00e9 b", "big": 123456789012345678901234567890}' in body
    assert b'"input":{"prompt": "x"}' in body
    decoded = json.loads(body)
    assert decoded["output"]["big"] == 123456789012345678901234567890


def test_the_fallback_encoder_decodes_it() -> None:
    """An integer beyond 64 bits elsewhere sends the document to the standard library,
    which writes the stored documents' values."""
    document = execution_document(view(StoredJson('{"n": 1}'), {"seed": 2**70}))
    assert orjson.loads(dumps(document))["output"] == {"n": 1}
    assert json.loads(dumps(document))["input"] == {"seed": 2**70}


async def test_links_are_made_only_where_a_reference_may_be() -> None:
    blobs = MemoryBlobStore()
    files = OutputFiles(blobs, FakeDownloader(), url_ttl_s=600)
    plain = StoredJson('{"text": "no files"}')
    assert await files.render(EXECUTION, plain) is plain
    key = f"executions/{EXECUTION}/0.png"
    await blobs.put(key, b"\x89PNG", "image/png")
    with_file = StoredJson(json.dumps({"images": [{"$file": key}]}))
    rendered = await files.render(EXECUTION, with_file)
    [url] = rendered.value["images"]
    assert url == await blobs.url(key, 600)


OTHER = "00000000-0000-0000-0000-0000000000ff"


@pytest.mark.parametrize(
    "output",
    [
        {"images": [{"$file": f"executions/{EXECUTION}/0.png"}], "seed": 7},
        {"a": {"b": [{"$file": f"executions/{EXECUTION}/1.wav"}, 3]}, "c": "$file"},
        {"image": {"$file": f"executions/{OTHER}/0.png"}},  # another execution's: kept
        {"x": {"$file": f"executions/{EXECUTION}/0.png", "more": 1}},  # not a reference
        {"x": {"more": 1, "$file": f"executions/{EXECUTION}/0.png"}},  # not a reference
        {"x": {"$file": 5}},  # not a reference
        {"text": '{"$file": "executions/' + str(EXECUTION) + '/0.png"}'},  # a string
        {"text": "caf\u00e9", "f": {"$file": f"executions/{EXECUTION}/0.png"}},
        {"\\u0024file": f"executions/{EXECUTION}/0.png"},  # escaped: decoded
        [{"$file": f"executions/{EXECUTION}/0.png"}, {"$file": f"executions/{EXECUTION}/0.png"}],
    ],
    ids=repr,
)
@pytest.mark.parametrize("separators", [(", ", ": "), (",", ":")], ids=["spaced", "compact"])
async def test_links_in_stored_text_are_those_of_the_decoded_document(
    output: Any, separators: tuple[str, str]
) -> None:
    files = OutputFiles(MemoryBlobStore(), FakeDownloader(), url_ttl_s=600)
    text = json.dumps(output, separators=separators).replace("\\\\u", "\\u")
    stored = await files.render(EXECUTION, StoredJson(text))
    decoded = await files.render(EXECUTION, json.loads(text))
    shown = stored.value if isinstance(stored, StoredJson) else stored
    assert shown == decoded


async def test_plain_references_are_replaced_in_the_text_without_decoding() -> None:
    files = OutputFiles(MemoryBlobStore(), FakeDownloader(), url_ttl_s=600)
    key = f"executions/{EXECUTION}/0.png"
    stored = StoredJson(json.dumps({"images": [{"$file": key}], "seed": 7}))
    rendered = await files.render(EXECUTION, stored)
    assert isinstance(rendered, StoredJson) and stored._value is StoredJson._UNSET
    assert rendered.text.startswith('{"images": ["http') and rendered.text.endswith(', "seed": 7}')
