"""The simulated speech-to-text worker: it reads the audio it is given (a URL, as a
signed link to an upload, or ``audio_base64``), takes the duration from a WAV header and
answers in faster-whisper's shape (``transcription``, ``segments``,
``detected_language``), every text labelled simulated."""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

import aiohttp

HEAD_BYTES = 64 * 1024
FETCH_TIMEOUT_S = 10.0
SEGMENT_S = 5.0


def wav_duration(data: bytes) -> float | None:
    """Seconds of audio a RIFF/WAVE header announces (``data`` size / byte rate), or
    None when ``data`` does not start with one."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    offset, byte_rate = 12, 0
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if chunk == b"fmt " and offset + 16 <= len(data):
            byte_rate = struct.unpack_from("<I", data, offset + 16)[0]
        elif chunk == b"data":
            return round(size / byte_rate, 3) if byte_rate else None
        offset += 8 + size + (size & 1)
    return None


async def audio_head(input: dict[str, Any]) -> bytes | None:
    """The first bytes of the job's audio: fetched from ``audio`` (an http(s) URL) or
    decoded from ``audio_base64``; None when there is none or it cannot be read."""
    url = input.get("audio")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
        headers = {"Range": f"bytes=0-{HEAD_BYTES - 1}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers) as answer,
            ):
                if answer.status not in (200, 206):
                    return None
                return await answer.content.read(HEAD_BYTES)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
    encoded = input.get("audio_base64")
    if isinstance(encoded, str) and encoded:
        try:
            return base64.b64decode(encoded[: HEAD_BYTES * 2], validate=False)
        except (binascii.Error, ValueError):
            return None
    return None


def transcript(head: bytes, input: dict[str, Any]) -> dict[str, Any]:
    """A transcript-shaped output for audio that starts with ``head``."""
    duration = wav_duration(head)
    language = input.get("language") or "en"
    if duration is None:
        text = f"[simulated] a transcript of {len(head)} bytes of audio that is not WAV"
        segments: list[dict[str, Any]] = []
    else:
        count = max(int(-(-duration // SEGMENT_S)), 1)
        segments = [
            _segment(n, n * SEGMENT_S, min((n + 1) * SEGMENT_S, duration)) for n in range(count)
        ]
        text = f"[simulated] transcript of {duration:.1f} seconds of audio"
    return {
        "transcription": text,
        "segments": segments,
        "detected_language": language,
        "duration": duration,
        "model": input.get("model") or "base",
        "simulated": True,
    }


def _segment(n: int, start: float, end: float) -> dict[str, Any]:
    return {"id": n, "start": start, "end": end, "text": f"[simulated] {start:.1f}-{end:.1f} s"}
