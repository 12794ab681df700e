"""What consumers may see of an execution's input.

Executions store only the merged payload sent to the GPU worker, which contains the
developer's hidden values and the prompt prefix and suffix. Until the core keeps the
consumer's own inputs, this reconstructs them from the model's current configuration
(published models only; otherwise the input is withheld).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tarsify.domain.config import PROMPT_FIELD, ConfigOverrides
from tarsify.domain.errors import TarsModelNotFound
from tarsify.domain.models import ExecutionView, JsonObject
from tarsify.services.marketplace import MarketplaceService

from . import serialize, views

CONFIG_TTL_S = 30.0
CACHE_SIZE = 1024


def consumer_view_of(payload: JsonObject | None, config: ConfigOverrides) -> JsonObject | None:
    """``payload`` without hidden fields and with the prompt unwrapped."""
    if payload is None:
        return None
    hidden = set(config.hidden_fields)
    visible = {k: v for k, v in payload.items() if k not in hidden}
    prompt = visible.get(PROMPT_FIELD)
    prefix, suffix = config.prompt_prefix, config.prompt_suffix
    if isinstance(prompt, str) and (prefix or suffix):
        wrapped = len(prompt) >= len(prefix) + len(suffix)
        if wrapped and prompt.startswith(prefix) and prompt.endswith(suffix):
            visible[PROMPT_FIELD] = prompt[len(prefix) : len(prompt) - len(suffix)]
        else:
            # Wrapped under an older configuration: the wrapping cannot be told apart.
            del visible[PROMPT_FIELD]
    return visible


class VisibleInputs:
    """Consumer views of execution inputs, with a short-lived cache of model configs."""

    def __init__(
        self,
        marketplace: MarketplaceService,
        *,
        ttl_s: float = CONFIG_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._marketplace = marketplace
        self._ttl = ttl_s
        self._clock = clock
        self._configs: dict[str, tuple[float, ConfigOverrides | None]] = {}

    async def config(self, slug: str) -> ConfigOverrides | None:
        """The current configuration of a published model; None when not published."""
        now = self._clock()
        hit = self._configs.get(slug)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            detail = await self._marketplace.detail(slug)
            found: ConfigOverrides | None = ConfigOverrides.parse(
                detail.entry.tars_model.config_overrides
            )
        except TarsModelNotFound:
            found = None
        if len(self._configs) >= CACHE_SIZE:
            self._configs.clear()
        self._configs[slug] = (now + self._ttl, found)
        return found

    async def visible(self, slug: str, payload: JsonObject | None) -> Any:
        """What the consumer may see of ``payload`` (None when it cannot be told)."""
        config = await self.config(slug)
        return None if config is None else consumer_view_of(payload, config)

    async def execution(self, view: ExecutionView) -> views.ExecutionView:
        """The consumer's JSON view of an execution."""
        visible = await self.visible(view.model_slug, view.execution.input_payload)
        return serialize.execution(view, visible)
