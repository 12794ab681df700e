"""Streamed output: the chunks a streaming model's worker yields, and the ids of the
events of an execution's stream.

Every event of an execution's stream has an id that only grows: each stored change of
the execution and each stored chunk moves ``Execution.event_id`` (``version + chunks``)
on by one. The chunks stored with a change of version ``v`` (which had ``c`` chunks)
take the ids ``v + c + 1`` onwards, and the state after that change has an id one more
than its last chunk. A stream that resumes after an id sends the chunks after it, then
the state of the execution if its id is newer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tarsify.domain.execution import Execution
from tarsify.domain.jsonsafe import json_safe

# How many stored chunks a stream reads at once (its memory stays bounded by it).
CHUNK_PAGE = 100


@dataclass(slots=True, frozen=True)
class StreamChunk:
    """One chunk of an execution's output: ``seq`` counts from 1, ``event_id`` is its id
    in the execution's event stream."""

    execution_id: uuid.UUID
    seq: int
    event_id: int
    value: Any
    created_at: datetime


def chunks_after(before: Execution, values: Sequence[Any], now: datetime) -> list[StreamChunk]:
    """The rows of ``values`` stored by the change that starts from ``before``."""
    first_id = before.event_id + 1
    return [
        StreamChunk(before.id, before.chunks + i + 1, first_id + i, json_safe(value), now)
        for i, value in enumerate(values)
    ]


def aggregate(output: Any, values: Sequence[Any]) -> Any:
    """The final output of a streaming job: the worker's own aggregate when it returned
    one, else the list of its chunks in order."""
    if output is None or output == [] or output == "":
        return list(values)
    return output
