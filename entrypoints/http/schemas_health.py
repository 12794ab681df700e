"""The answers of the liveness and readiness probes."""

from __future__ import annotations

from .schemas import View


class Health(View):
    """Liveness and readiness answers, with the GPU provider in use.

    ``simulated`` is true when executions run on the local GPU simulator: their outputs
    are generated placeholders, not model results. ``providers`` are the providers
    endpoints can be on (``runpod``, ``fal``): all when simulated, else those with
    credentials.
    """

    status: str
    gpu_provider: str
    simulated: bool
    providers: list[str]
