"""Simulated generator handlers: the chunks a streaming worker yields over its run, the
progress a simulated worker reports, and the log lines a simulated fal runner prints."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapters.providers.simulator.media import FILE_MARK, png_data_uri
from tarsify.domain.models import OutputType

CHUNKS_PER_S = 8
MAX_CHUNKS = 10_000
# Simulated models of these outputs report their progress while they run.
PROGRESS_TYPES = frozenset({OutputType.IMAGE})
STREAM_TEXT = (
    "Once upon a time a small GPU in a rack far away dreamed of writing stories. "
    "Every night it turned prompts into words, one token at a time, and the people "
    "watching saw each word appear as soon as it was written. "
)


@dataclass(slots=True)
class StreamPlan:
    """A job's generator: ``chunks`` yielded evenly over its run, ``streamed`` of them
    read so far (``/stream`` consumes them), whether its output is the list of every
    chunk (RunPod's ``return_aggregate_stream``), whether it reports progress, and
    whether its chunks are image previews (``data``: data URIs, ``url``: the fake's
    expiring URLs)."""

    chunks: int
    aggregate: bool
    progress: bool
    streamed: int = 0
    previews: str | None = None

    def take(
        self, output_type: OutputType, completed: bool, ran_s: float, run_s: float
    ) -> list[Any]:
        """The chunks yielded after ``ran_s`` of the run and not read yet (consumed)."""
        produced = self.chunks if completed else yielded_by(self.chunks, ran_s, run_s)
        fresh = [
            stream_chunk(output_type, i, self.previews) for i in range(self.streamed, produced)
        ]
        self.streamed = max(self.streamed, produced)
        return fresh

    def output(self, output_type: OutputType) -> Any:
        """The job's final output: the list of its chunks, or nothing without aggregate."""
        if not self.aggregate:
            return ""
        return [stream_chunk(output_type, i, self.previews) for i in range(self.chunks)]

    def progress_at(self, ran_s: float, run_s: float) -> Any:
        """The progress report after ``ran_s`` of the run (None if it reports none)."""
        if not self.progress or not math.isfinite(run_s) or run_s <= 0:
            return None
        return {"percent": int(min(1.0, ran_s / run_s) * 10) * 10}


def plan_stream(
    input: dict[str, Any], output_type: OutputType, run_s: float, streaming: bool
) -> StreamPlan | None:
    """What a job yields and reports, from its kind and its input's magic:
    ``simulate_stream`` (a number of chunks, or true), ``simulate_aggregate`` (false: no
    aggregate output), ``simulate_progress``, ``simulate_previews`` (true or ``"data"``:
    each chunk an image preview as a data URI; ``"url"``: as an expiring URL). None:
    neither chunks nor progress."""
    magic = input.get("simulate_stream")
    chunks = 0
    if magic is True or (streaming and magic is None):
        chunks = max(1, round(min(run_s, 60.0) * CHUNKS_PER_S)) if math.isfinite(run_s) else 1
    elif isinstance(magic, int) and not isinstance(magic, bool) and magic > 0:
        chunks = min(magic, MAX_CHUNKS)
    aggregate = input.get("simulate_aggregate") is not False
    progress = bool(input.get("simulate_progress"))
    progress = progress or (output_type in PROGRESS_TYPES and not chunks)
    if not chunks and not progress:
        return None
    previews = input.get("simulate_previews")
    kind = "data" if previews is True else previews if previews in ("data", "url") else None
    return StreamPlan(chunks, aggregate, progress, previews=kind)


def yielded_by(chunks: int, ran_s: float, run_s: float) -> int:
    """How many of ``chunks`` a job that runs ``run_s`` has yielded after ``ran_s``."""
    if not math.isfinite(run_s) or run_s <= 0:
        return 0
    return max(0, min(chunks, int(chunks * ran_s / run_s)))


def stream_chunk(output_type: OutputType, index: int, previews: str | None = None) -> Any:
    """The ``index``-th chunk a simulated generator handler yields: a word of a story (a
    text model's token), an image preview (``previews``: the PNG of seed ``index + 1``),
    else a small object."""
    if previews == "data":
        return {"index": index, "image": png_data_uri(index + 1)}
    if previews == "url":
        return {"index": index, "image": f"{FILE_MARK}png/{index + 1}"}
    words = STREAM_TEXT.split(" ")[:-1]
    word = words[index % len(words)] + " "
    if output_type == OutputType.TEXT:
        return word
    return {"index": index, "text": word, "simulated": True}


def runner_logs(
    since: datetime, *, started: bool, percent: int | None, finished: bool
) -> list[dict[str, Any]]:
    """A simulated fal runner's log lines so far, as fal's ``?logs=1`` shows them: a line
    when it started, a step per 10% of a job that reports progress (``percent``: how far
    it got), a line when it finished. Each line keeps its own time whenever it is read:
    ``since`` (when the request was submitted) plus a millisecond per line."""
    lines = []
    if started:
        lines.append("Simulated runner started the request")
    if percent:
        lines += [f"Step {p // 10}/10" for p in range(10, percent + 1, 10)]
    if finished and started:
        lines.append("Simulated runner finished the request")
    return [
        {
            "message": line,
            "level": "INFO",
            "source": "user",
            "timestamp": (since + timedelta(milliseconds=i)).isoformat(),
        }
        for i, line in enumerate(lines)
    ]
