"""What a run needs of its model, kept a moment per process.

Every run needs its model with the base model and endpoint (one joined read) and checks
its inputs against two schemas (validators that cost more to build than to use). A
process keeps both per slug for ``ttl_s``. What a kept entry may get wrong is bounded:

- whether the model may run at all is checked again by the insert itself, atomically
  (``Admission``): an unpublished model, a deactivated base model or endpoint, or a base
  model moved to another endpoint refuse the insert, and the run reads the model afresh;
- a change of schema, configuration, price or provider endpoint id made by *another*
  process reaches this one within ``ttl_s``; this process's own catalog writes drop the
  entries at once (``forget``).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from tarsify.domain.config import ConfigOverrides
from tarsify.domain.inputs import InputCheck
from tarsify.domain.models import RunTarget
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory

MAX_ENTRIES = 1024


@dataclass(slots=True, frozen=True)
class PreparedTarget:
    """A run target with its inputs' check built."""

    target: RunTarget
    check: InputCheck
    read_at: datetime


class RunTargets:
    """Run targets by slug, read at most once per ``ttl_s`` per process (0: every time)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ttl_s: float = 1.0) -> None:
        self._uow = uow
        self._clock = clock
        self._ttl = timedelta(seconds=max(ttl_s, 0.0))
        self._entries: OrderedDict[str, PreparedTarget] = OrderedDict()

    async def get(self, slug: str) -> PreparedTarget | None:
        """The target of ``slug``, from this process's copy while it is fresh."""
        entry = self._entries.get(slug)
        if entry is not None and self._clock.now() - entry.read_at < self._ttl:
            return entry
        return await self.read(slug)

    async def read(self, slug: str) -> PreparedTarget | None:
        """The target of ``slug`` read now (and kept, when it may run)."""
        read_at = self._clock.now()
        async with self._uow() as uow:
            target = await uow.tars_models.get_run_target(slug)
        self._entries.pop(slug, None)
        if target is None:
            return None
        config = ConfigOverrides.parse(target.tars_model.config_overrides)
        entry = PreparedTarget(target, InputCheck(target.base_model.input_schema, config), read_at)
        if self._ttl and target.runnable_problem() is None:
            self._entries[slug] = entry
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        return entry

    def forget(self) -> None:
        """Drop every kept target (the catalog changed in this process)."""
        self._entries.clear()


async def run_target_of(uow: UnitOfWork, tars_model_id: uuid.UUID) -> RunTarget | None:
    """The run target (model, base model, endpoint) of a Tars model, by id."""
    model = await uow.tars_models.get(tars_model_id)
    return await uow.tars_models.get_run_target(model.slug) if model else None
