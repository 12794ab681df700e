"""The GPU provider: which one runs the jobs, RunPod's credentials, the simulator's pace."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from entrypoints.config.common import Group, secret_set


class GpuConfig(Group):
    """GPU_PROVIDER, RUNPOD_API_KEY, RUNPOD_BASE_URL, SIMULATOR_QUEUE_SECONDS,
    SIMULATOR_RUN_SECONDS."""

    provider: Literal["simulator", "runpod"] = Field(
        default="simulator", validation_alias="GPU_PROVIDER"
    )
    runpod_api_key: SecretStr | None = Field(default=None, validation_alias="RUNPOD_API_KEY")
    runpod_base_url: str = Field(
        default="https://api.runpod.ai/v2", validation_alias="RUNPOD_BASE_URL"
    )
    simulator_queue_seconds: float = Field(
        default=0.5, ge=0.0, validation_alias="SIMULATOR_QUEUE_SECONDS"
    )
    simulator_run_seconds: float = Field(
        default=1.0, ge=0.0, validation_alias="SIMULATOR_RUN_SECONDS"
    )

    def problems(self) -> list[str]:
        if self.provider == "runpod" and not secret_set(self.runpod_api_key):
            return ["RUNPOD_API_KEY is required when GPU_PROVIDER=runpod"]
        return []
