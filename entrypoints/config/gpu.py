"""The GPU providers: simulated or real, each real provider's credentials, the
simulator's pace."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from entrypoints.config.common import Group, secret_set
from tarsify.domain.catalog import Provider


class GpuConfig(Group):
    """GPU_PROVIDER, RUNPOD_API_KEY, RUNPOD_BASE_URL, FAL_KEY, FAL_QUEUE_URL, FAL_RUN_URL,
    SIMULATOR_QUEUE_SECONDS, SIMULATOR_RUN_SECONDS.

    ``GPU_PROVIDER`` chooses between the simulator (every provider simulated) and the
    real providers (``real``): each provider whose credentials are set. ``runpod`` is
    the older name of ``real`` and still requires RunPod's key.
    """

    provider: Literal["simulator", "real", "runpod"] = Field(
        default="simulator", validation_alias="GPU_PROVIDER"
    )
    runpod_api_key: SecretStr | None = Field(default=None, validation_alias="RUNPOD_API_KEY")
    runpod_base_url: str = Field(
        default="https://api.runpod.ai/v2", validation_alias="RUNPOD_BASE_URL"
    )
    fal_key: SecretStr | None = Field(default=None, validation_alias="FAL_KEY")
    fal_queue_url: str = Field(default="https://queue.fal.run", validation_alias="FAL_QUEUE_URL")
    # fal's streaming apps (``{model}/stream``), outside the queue.
    fal_run_url: str = Field(default="https://fal.run", validation_alias="FAL_RUN_URL")
    simulator_queue_seconds: float = Field(
        default=0.5, ge=0.0, validation_alias="SIMULATOR_QUEUE_SECONDS"
    )
    simulator_run_seconds: float = Field(
        default=1.0, ge=0.0, validation_alias="SIMULATOR_RUN_SECONDS"
    )

    @field_validator("runpod_base_url", "fal_queue_url", "fal_run_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        """A provider's API is reached over http(s) at a host."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL such as https://host/path, not {url!r}")
        return url

    @property
    def simulated(self) -> bool:
        """True when every provider is the simulator."""
        return self.provider == "simulator"

    def configured_providers(self) -> frozenset[Provider]:
        """The real providers whose credentials are set."""
        found = set()
        if secret_set(self.runpod_api_key):
            found.add(Provider.RUNPOD)
        if secret_set(self.fal_key):
            found.add(Provider.FAL)
        return frozenset(found)

    def reachable_providers(self) -> frozenset[Provider]:
        """The providers jobs can be sent to: all when simulated, else the configured."""
        return frozenset(Provider) if self.simulated else self.configured_providers()

    def problems(self) -> list[str]:
        if self.provider == "runpod" and not secret_set(self.runpod_api_key):
            return ["RUNPOD_API_KEY is required when GPU_PROVIDER=runpod"]
        if self.provider == "real" and not self.configured_providers():
            return ["RUNPOD_API_KEY or FAL_KEY is required when GPU_PROVIDER=real"]
        return []
