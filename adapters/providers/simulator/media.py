"""Simulated model outputs: small but real PNG and WAV files, and placeholder text/JSON.

Every output carries ``"simulated": true`` so nobody mistakes it for a model result.
No output repeats the input: a worker receives the *merged* input (the developer's hidden
fields, locked values and prompt prefix/suffix included), which its consumer must never
see, and the simulator cannot tell those parts from what the consumer typed. Text and
JSON outputs are fixed placeholders; the input only picks an image's or a tone's seed.
"""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import wave
import zlib
from typing import Any

from tarsify.domain.models import OutputType

# A file the fake RunPod API serves itself: it turns ``simfile:png/7`` into an expiring
# URL of its own, as hub workers hand out presigned S3 URLs.
FILE_MARK = "simfile:"
TEXT_PLACEHOLDER = "A text model's answer would appear here"
JSON_PLACEHOLDER = "A model's JSON result would appear here"


def simulated_output(
    output_type: OutputType, input: dict[str, Any], *, urls: bool = False
) -> dict[str, Any]:
    """A small, real and clearly labelled output of the given type.

    Files come the ways real workers return them, chosen by the input's
    ``simulate_output``: ``data_uri`` (worker-sdxl's images, the default for images),
    ``base64`` (bare base64, as community audio workers return it, the default for audio)
    or ``url`` (an expiring URL; only where ``urls`` is on, the fake RunPod API).
    """
    prompt = _prompt(input)
    seed = input.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        seed = zlib.crc32(prompt.encode())
    style = input.get("simulate_output")
    if style == "url" and not urls:
        style = None
    if output_type == OutputType.IMAGE:
        count = input.get("num_images", 1)
        count = count if isinstance(count, int) and 1 <= count <= 4 else 1
        images = [_image(seed + i, style) for i in range(count)]
        if style == "url":
            return {"image_url": images[0], "images": images, "seed": seed, "simulated": True}
        return {"images": images, "seed": seed, "simulated": True}
    if output_type == OutputType.AUDIO:
        if style == "url":
            return {"audio_url": f"{FILE_MARK}wav/{seed}", "simulated": True}
        audio = base64.b64encode(wav_bytes(seed)).decode()
        if style == "data_uri":
            return {"audio": "data:audio/wav;base64," + audio, "simulated": True}
        return {"audio_base64": audio, "format": "wav", "simulated": True}
    if output_type == OutputType.TEXT:
        return {"text": f"[simulated] {TEXT_PLACEHOLDER}", "simulated": True}
    return {"result": JSON_PLACEHOLDER, "simulated": True}


def _image(seed: int, style: Any) -> str:
    if style == "url":
        return f"{FILE_MARK}png/{seed}"
    if style == "base64":
        return base64.b64encode(png_bytes(seed)).decode()
    return png_data_uri(seed)


def file_bytes(kind: str, seed: int) -> tuple[bytes, str] | None:
    """The bytes and media type of a ``simfile:{kind}/{seed}`` file, or None."""
    if kind == "png":
        return png_bytes(seed), "image/png"
    if kind == "wav":
        return wav_bytes(seed), "audio/wav"
    return None


def _prompt(input: dict[str, Any]) -> str:
    for key in ("prompt", "text"):
        if isinstance(input.get(key), str):
            return str(input[key])
    return json.dumps(input, sort_keys=True, default=str)


def png_bytes(seed: int, size: int = 64) -> bytes:
    """A ``size`` x ``size`` RGB gradient PNG whose colours depend on ``seed``."""
    r0, g0, b0 = seed & 0xFF, (seed >> 8) & 0xFF, (seed >> 16) & 0xFF
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter type "none" for every scanline
        for x in range(size):
            rows += bytes(((r0 + 4 * x) & 0xFF, (g0 + 4 * y) & 0xFF, (b0 + 2 * (x + y)) & 0xFF))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def png_data_uri(seed: int) -> str:
    """The PNG of ``seed`` as a ``data:image/png;base64,`` URI, as worker-sdxl returns."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(seed)).decode()


def wav_bytes(seed: int, seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A mono 16-bit sine tone whose pitch depends on ``seed``."""
    freq = 220 + seed % 660
    frames = int(seconds * rate)
    samples = (
        int(12000 * math.sin(2 * math.pi * freq * i / rate) * min(1.0, (frames - i) / 400))
        for i in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()
