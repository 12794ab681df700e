"""Finding files in provider outputs, media sniffing, keys and references."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from tarsify.domain.errors import InvalidFileKey
from tarsify.domain.file_detect import find_files
from tarsify.domain.files import (
    check_key,
    file_key,
    reference,
    references,
    render_output,
    replace_at,
)
from tarsify.domain.media import choose_type, clean_type, extension_for, sniff
from tarsify.domain.models import OutputType

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SAMPLES = {
    "image/png": PNG,
    "image/jpeg": b"\xff\xd8\xff\xe0" + b"\x00" * 200,
    "image/webp": b"RIFF\x00\x01\x00\x00WEBPVP8 " + b"\x00" * 200,
    "audio/wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 200,
    "audio/mpeg": b"ID3\x04\x00" + b"\x00" * 200,
    "audio/flac": b"fLaC\x00\x00\x00\x22" + b"\x00" * 200,
    "audio/ogg": b"OggS\x00\x02" + b"\x00" * 200,
    "video/mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200,
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("content_type", sorted(SAMPLES))
def test_magic_bytes_name_the_type(content_type: str) -> None:
    assert sniff(SAMPLES[content_type]) == content_type
    found = find_files({"file": b64(SAMPLES[content_type])}, OutputType.FILE)
    assert [(path, src.content_type) for path, src in found] == [(("file",), content_type)]
    assert found[0][1].data == SAMPLES[content_type]


def test_an_mpeg_frame_without_id3_is_mp3_and_jpeg_is_not() -> None:
    assert sniff(b"\xff\xfb\x90\x64" + b"\x00" * 20) == "audio/mpeg"
    assert sniff(b"\xff\xd8\xff\xdb") == "image/jpeg"
    assert sniff(b"hello world, plain text") is None


def test_data_uris_in_nested_lists_are_found_for_any_output_type() -> None:
    output = {"images": [f"data:image/png;base64,{b64(PNG)}", "not a file"], "seed": 7}
    for output_type in OutputType:
        found = find_files(output, output_type, "png")
        assert [path for path, _ in found] == [("images", 0)]
        assert found[0][1].data == PNG
        assert found[0][1].content_type == "image/png"


def test_the_bytes_win_over_a_wrong_declared_type_and_generic_types() -> None:
    wav = SAMPLES["audio/wav"]
    found = find_files([f"data:image/png;base64,{b64(wav)}"], OutputType.JSON)
    assert found[0][1].content_type == "audio/wav"
    text = find_files(f"data:text/plain;charset=utf-8;base64,{b64(b'hi there')}", OutputType.TEXT)
    assert text[0][1].content_type == "text/plain"
    assert choose_type(b"???", "application/octet-stream") == "application/octet-stream"
    assert choose_type(b"???", "Audio/X-WAV; rate=1") == "audio/wav"
    assert clean_type("not a type") is None


def test_a_corrupt_data_uri_is_left_alone() -> None:
    assert find_files({"image": "data:image/png;base64,@@@not base64@@@"}, OutputType.IMAGE) == []


@pytest.mark.parametrize("output_type", [OutputType.TEXT, OutputType.JSON])
def test_bare_base64_and_urls_are_files_only_for_file_output_types(output_type: Any) -> None:
    output = {"audio_base64": b64(SAMPLES["audio/wav"]), "audio_url": "https://x.example/a.wav"}
    assert find_files(output, output_type) == []
    assert len(find_files(output, OutputType.AUDIO)) == 2


def test_bare_base64_must_be_long_enough_and_decode_to_a_known_format() -> None:
    short = b64(PNG[:30])
    text = b64(b"just some words that are long enough to pass the minimum length check")
    output = {"a": short, "b": text, "c": "x" * 100, "d": "Zm9v" * 40}
    assert find_files(output, OutputType.IMAGE) == []


def test_line_wrapped_and_url_safe_base64_decode() -> None:
    wrapped = "\n".join(b64(PNG)[i : i + 76] for i in range(0, len(b64(PNG)), 76))
    urlsafe = base64.urlsafe_b64encode(PNG).decode()
    found = find_files([wrapped, urlsafe], OutputType.IMAGE)
    assert [src.data for _, src in found] == [PNG, PNG]


def test_urls_are_files_by_their_place() -> None:
    output = {
        "audio_url": "https://cdn.example/a.wav?X-Amz-Signature=abc",
        "images": ["http://cdn.example/1.png"],
        "output": "https://cdn.example/out.bin",
        "homepage": "https://example.com/about",
        "nested": {"file": "ftp://example.com/f.bin", "result_uri": "https://h.example/r"},
    }
    found = {path: src.url for path, src in find_files(output, OutputType.FILE)}
    assert found == {
        ("audio_url",): "https://cdn.example/a.wav?X-Amz-Signature=abc",
        ("images", 0): "http://cdn.example/1.png",
        ("output",): "https://cdn.example/out.bin",
        ("nested", "result_uri"): "https://h.example/r",
    }
    assert [s.url for _, s in find_files("https://a.example/x", OutputType.IMAGE)] == [
        "https://a.example/x"
    ]
    assert find_files("https://has space.example/x", OutputType.IMAGE) == []


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "../x", "a/../b", "a/./b", "a//b", "a/", ".x", "a\x00b", "a\\b", "é", "a b"],
)
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidFileKey):
        check_key(key)


def test_good_keys_and_file_keys() -> None:
    execution = uuid.UUID("0b6f0a46-35d8-4d4a-9a43-5b1d5c5e3f10")
    assert file_key(execution, 2, "wav") == f"executions/{execution}/2.wav"
    assert check_key("a/B-c_d.e/f.tar.gz") == "a/B-c_d.e/f.tar.gz"
    with pytest.raises(InvalidFileKey):
        check_key("k" * 513)
    assert extension_for("image/jpeg") == "jpg"
    assert extension_for("application/x-unknown") == "bin"


def test_references_render_and_replace() -> None:
    output = {"images": ["A", "B"], "seed": 1, "meta": {"keep": [1, 2]}}
    replaced = replace_at(output, {("images", 1): reference("k/1.png")})
    assert replaced == {"images": ["A", {"$file": "k/1.png"}], "seed": 1, "meta": {"keep": [1, 2]}}
    assert replaced["meta"] is output["meta"]  # untouched branches are shared
    assert output["images"] == ["A", "B"]  # the original is not changed
    assert references(replaced) == ["k/1.png"]
    # A dict with more members than the marker is not a reference.
    assert references({"$file": "k", "other": 1}) == []
    rendered = render_output(replaced, lambda key: f"https://files/{key}")
    assert rendered["images"] == ["A", "https://files/k/1.png"]
    assert render_output(replaced, lambda key: None) == replaced
    assert replace_at("root", {(): reference("k")}) == {"$file": "k"}
