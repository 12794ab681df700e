"""Provider callbacks: what RunPod posts when a job finishes, and the answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .schemas import View


class ProviderNotice(BaseModel):
    """RunPod's status object as posted to a webhook; only ``id`` is read, as a hint."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    status: str | None = None


class NoticeAccepted(View):
    """The notice was taken: the job's status has been re-read from the provider."""

    accepted: bool
