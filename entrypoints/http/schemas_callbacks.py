"""Provider callbacks: what RunPod or fal posts when a job finishes, and the answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .schemas import View


class ProviderNotice(BaseModel):
    """What a provider posts to a webhook: RunPod's status object (``id``) or fal's
    webhook body (``request_id``, ``status`` ``OK``/``ERROR``, ``payload``). Only the
    job's id is read, as a hint; the status is re-read from the provider."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    request_id: str | None = None
    status: str | None = None

    @property
    def job_hint(self) -> str | None:
        """The job the notice names (RunPod's job id, or fal's request id)."""
        return self.id or self.request_id


class NoticeAccepted(View):
    """The notice was taken: the job's status has been re-read from the provider."""

    accepted: bool
