"""What a run is made of besides the service: its result, the fingerprint that detects a
reused idempotency key, and the offload that runs checks in place."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tarsify.domain.execution import ExecutionView
from tarsify.domain.models import JsonObject, RunTarget

R = TypeVar("R")


class Inline:
    """``Offload`` on the event loop itself (tests and tools; servers use threads)."""

    async def run(self, work: Callable[[], R]) -> R:
        """``work()``, here and now."""
        return work()


@dataclass(slots=True, frozen=True)
class RunResult:
    """The execution a run produced (or found, for a repeated idempotency key)."""

    view: ExecutionView
    replayed: bool = False


def same_route(a: RunTarget, b: RunTarget) -> bool:
    """True when both send the same model to the same endpoint."""
    return a.tars_model.id == b.tars_model.id and a.endpoint.id == b.endpoint.id


def request_fingerprint(slug: str, inputs: JsonObject) -> str:
    """A stable hash of what a run asked for, to detect idempotency-key reuse."""
    canonical = json.dumps({"model": slug, "inputs": inputs}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
