"""Helpers of the upload tests: a speech-to-text model whose ``audio`` is a file input,
multipart bodies, and WAV bytes."""

from __future__ import annotations

import io
import struct
import wave
from typing import Any

from aiohttp import FormData

from .support import Api

STT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "audio": {"type": "string", "format": "uri", "description": "Audio file to transcribe"},
        "language": {"type": "string", "default": "en"},
        "references": {"type": "array", "items": {"type": "string", "format": "uri"}},
        "note": {"type": "string"},
    },
    "required": ["audio"],
    "additionalProperties": False,
}


def wav_bytes(seconds: float = 1.5, rate: int = 8000) -> bytes:
    """A mono 16-bit PCM WAV of ``seconds`` of a quiet tone."""
    frames = int(seconds * rate)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"".join(struct.pack("<h", (i % 64) * 16) for i in range(frames)))
    return out.getvalue()


def form(data: bytes, name: str = "clip.wav", content_type: str = "audio/wav") -> FormData:
    """A multipart body with one part ``file``."""
    body = FormData()
    body.add_field("file", data, filename=name, content_type=content_type)
    return body


async def upload(api: Api, who: str, body: FormData) -> tuple[int, Any]:
    """POST the body to the upload route; (status, parsed envelope)."""
    headers = {"Authorization": f"Bearer {api.tokens[who]}"}
    async with api.client.post("/api/consumer/files", data=body, headers=headers) as answer:
        return answer.status, await answer.json()


async def seed_stt(api: Api, endpoint_body: dict[str, Any], *, register: bool = True) -> str:
    """An endpoint, a speech-to-text base model and a published Tars model; its slug."""
    endpoint = await api.ok("POST", "/api/admin/endpoints", "admin", endpoint_body, 201)
    base = await api.ok(
        "POST",
        "/api/admin/base-models",
        "admin",
        {
            "endpointId": endpoint["id"],
            "slug": "whisper-test",
            "name": "Whisper",
            "category": "AUDIO",
            "inputSchema": STT_SCHEMA,
            "outputType": "TEXT",
            "outputFormat": "json",
            "estimatedSeconds": 5,
        },
        201,
    )
    if register:
        await api.ok("POST", "/api/developer/auth/register", "developer_x", {}, 201)
        for who in ("consumer_a", "consumer_b"):
            await api.ok("POST", "/api/consumer/auth/register", who, {}, 201)
    tars = await api.ok(
        "POST",
        "/api/developer/tars-models",
        "developer_x",
        {"baseModelId": base["id"], "title": "Transcribe"},
        201,
    )
    await api.ok(
        "PATCH", f"/api/developer/tars-models/{tars['id']}", "developer_x", {"status": "PUBLISHED"}
    )
    return str(tars["slug"])
