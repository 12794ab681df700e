"""The simulated speech-to-text worker reads a WAV's duration from its header."""

from __future__ import annotations

import base64

from adapters.providers.simulator.engine import SimulatorEngine
from adapters.providers.simulator.provider import SimulatedGpuProvider
from adapters.providers.simulator.speech import transcript, wav_duration
from tarsify.domain.models import OutputType
from tarsify.ports.provider import JobRequest
from tests.e2e.uploads_support import wav_bytes


def test_wav_duration_comes_from_the_header() -> None:
    assert wav_duration(wav_bytes(2.5)[:64]) == 2.5
    assert wav_duration(b"ID3 not a wav at all") is None


def test_transcript_has_faster_whispers_shape() -> None:
    out = transcript(wav_bytes(12.0), {"language": "fr"})
    assert out["transcription"] == "[simulated] transcript of 12.0 seconds of audio"
    assert [(s["start"], s["end"]) for s in out["segments"]] == [(0, 5), (5, 10), (10, 12)]
    assert (out["detected_language"], out["duration"], out["simulated"]) == ("fr", 12.0, True)


async def test_a_text_job_with_audio_answers_its_transcript() -> None:
    engine = SimulatorEngine(queue_delay_s=0, run_time_s=0)
    provider = SimulatedGpuProvider(engine)
    audio = base64.b64encode(wav_bytes(3.0)).decode()
    request = JobRequest("stt", {"audio_base64": audio}, 60_000, 60_000, OutputType.TEXT)
    report = await provider.submit_and_wait(request, 1000)
    assert report.output["transcription"] == "[simulated] transcript of 3.0 seconds of audio"
