"""What must hold as a new execution is stored (``ExecutionRepository.create``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Admission:
    """What must still hold as a new execution is stored, decided with its insert: its
    Tars model is published, on an active base model that an active endpoint (the one
    the execution names) serves, and the consumer has fewer than ``max_active``
    unfinished executions (None: no limit). Holding the consumer's turn while counting
    keeps concurrent runs from overrunning the limit together. For a developer's test run
    (``drafts``) ``max_active`` bounds the developer's unfinished test runs, of all their
    models, the same way."""

    max_active: int | None = None
    # A developer's test run: a DRAFT model is admitted too (never an ARCHIVED one).
    drafts: bool = False
