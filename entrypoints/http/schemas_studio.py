"""The studio's bodies and answers: a developer's own Tars models and their figures."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from tarsify.domain import models as m
from tarsify.domain.config import ConfigOverrides
from tarsify.domain.credits import MAX_PRICE_PER_RUN
from tarsify.domain.figures import DeveloperFigures, Figures
from tarsify.domain.models import ModelCategory, TarsModelStatus
from tarsify.services.studio import StudioModel

from .schemas import SLUG_PATTERN, RequestModel, Timestamp, View, absent


class ConfigOverridesBody(RequestModel):
    """A Tars model's configuration; every key optional, null allowed."""

    default_inputs: dict[str, Any] | None = None
    locked_inputs: dict[str, Any] | None = None
    hidden_fields: list[str] | None = None
    prompt_prefix: str | None = Field(default=None, max_length=10_000)
    prompt_suffix: str | None = Field(default=None, max_length=10_000)

    def to_json(self) -> dict[str, Any]:
        """The stored JSON form (camelCase keys), keeping only what was sent."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class TarsModelCreate(RequestModel):
    """Create a DRAFT Tars model on a base model (developer)."""

    base_model_id: str = Field(
        min_length=2,
        max_length=100,
        description="The base model's id (a UUID) or its slug (`sdxl-image`).",
    )
    title: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, min_length=2, max_length=200, pattern=SLUG_PATTERN)
    description: str | None = Field(default=None, max_length=10_000)
    config_overrides: ConfigOverridesBody | None = None
    price_per_run: int = Field(default=0, ge=0, le=MAX_PRICE_PER_RUN)

    @field_validator("base_model_id")
    @classmethod
    def _id_or_slug(cls, value: str) -> str:
        if _uuid(value) is None and not re.fullmatch(SLUG_PATTERN, value):
            raise PydanticCustomError(
                "base_model_ref", "must be a base model's id (a UUID) or its slug"
            )
        return value

    @property
    def base_model(self) -> uuid.UUID | str:
        """The base model's id, or its slug: a value shaped like a UUID is an id."""
        return _uuid(self.base_model_id) or self.base_model_id


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class TarsModelUpdate(RequestModel):
    """Change a Tars model; ``status: PUBLISHED`` publishes it (developer)."""

    title: str = absent(min_length=1, max_length=200)
    slug: str = absent(min_length=2, max_length=200, pattern=SLUG_PATTERN)
    description: str | None = Field(default=None, max_length=10_000)
    config_overrides: ConfigOverridesBody | None = None
    status: TarsModelStatus = absent()
    price_per_run: int = absent(ge=0, le=MAX_PRICE_PER_RUN)

    def changes(self) -> dict[str, Any]:
        """The sent fields, with ``configOverrides`` as the core's ``ConfigOverrides``
        (null: an empty configuration)."""
        changes = super().changes()
        if "config_overrides" in changes:
            config = changes["config_overrides"]
            changes["config_overrides"] = ConfigOverrides.parse(
                None if config is None else config.to_json()
            )
        return changes


class Problem(View):
    """One reason a request or a configuration is not acceptable."""

    field: str
    message: str


class BaseModelRef(View):
    """The base model a Tars model wraps."""

    id: uuid.UUID
    slug: str
    name: str
    category: ModelCategory


class TarsModelSummary(View):
    """A developer's Tars model in their list."""

    id: uuid.UUID
    slug: str
    title: str
    description: str | None
    status: TarsModelStatus
    base_model_id: uuid.UUID
    config_overrides: dict[str, Any] | None
    price_per_run: int
    published_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class TarsModelView(TarsModelSummary):
    """One Tars model with its base model and what stops it from being published."""

    base_model: BaseModelRef | None
    problems: list[Problem]


def _tars_fields(t: m.TarsModel) -> dict[str, object]:
    return {
        "id": t.id,
        "slug": t.slug,
        "title": t.title,
        "description": t.description,
        "status": t.status,
        "base_model_id": t.base_model_id,
        "config_overrides": t.config_overrides,
        "price_per_run": t.price_per_run,
        "published_at": t.published_at,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }


def tars_summary_view(t: m.TarsModel) -> TarsModelSummary:
    """A Tars model in its developer's list."""
    return TarsModelSummary.model_validate(_tars_fields(t))


def tars_model_view(studio: StudioModel, base: m.BaseModel | None) -> TarsModelView:
    """One Tars model with its base model and publish problems."""
    ref = (
        None
        if base is None
        else BaseModelRef(id=base.id, slug=base.slug, name=base.name, category=base.category)
    )
    fields = _tars_fields(studio.model) | {
        "base_model": ref,
        "problems": [
            Problem(field=str(p.get("field", "")), message=str(p.get("message", "")))
            for p in studio.problems
        ],
    }
    return TarsModelView.model_validate(fields)


class PercentilesView(View):
    """The median and the 90th percentile, in milliseconds (null when no run has one)."""

    p50: float | None
    p90: float | None


class DayView(View):
    """One UTC day: paid runs created that day by outcome, credits earned that day."""

    date: dt.date
    runs: int
    completed: int
    failed: int
    earnings: int


class FiguresView(View):
    """Paid runs over the last ``days`` UTC days (test runs never count)."""

    runs: int
    completed: int
    failed: int
    cancelled: int
    timed_out: int
    success_rate: float | None = Field(
        description="completed / finished (0..1); null when no run finished"
    )
    queue_ms: PercentilesView
    run_ms: PercentilesView
    earnings: int = Field(description="Credits earned (the ledger's EARNING entries)")
    days: list[DayView] = Field(description="Every day of the window, oldest first")


class ModelFiguresView(View):
    """One model's line in a developer's figures."""

    id: uuid.UUID
    slug: str
    title: str
    runs: int
    success_rate: float | None
    earnings: int


class DeveloperFiguresView(FiguresView):
    """A developer's figures over all their models, and each model's line."""

    models: list[ModelFiguresView]


def figures_view(figures: Figures) -> FiguresView:
    """The figures' answer."""
    return FiguresView(
        runs=figures.runs,
        completed=figures.completed,
        failed=figures.failed,
        cancelled=figures.cancelled,
        timed_out=figures.timed_out,
        success_rate=figures.success_rate,
        queue_ms=PercentilesView(p50=figures.queue_ms.p50, p90=figures.queue_ms.p90),
        run_ms=PercentilesView(p50=figures.run_ms.p50, p90=figures.run_ms.p90),
        earnings=figures.earnings,
        days=[
            DayView(
                date=d.date,
                runs=d.runs,
                completed=d.completed,
                failed=d.failed,
                earnings=d.earnings,
            )
            for d in figures.days
        ],
    )


def developer_figures_view(found: DeveloperFigures) -> DeveloperFiguresView:
    """The developer's figures' answer."""
    lines = [
        ModelFiguresView(
            id=line.id,
            slug=line.slug,
            title=line.title,
            runs=line.runs,
            success_rate=line.success_rate,
            earnings=line.earnings,
        )
        for line in found.models
    ]
    totals = figures_view(found.totals)
    return DeveloperFiguresView(**totals.model_dump(), models=lines)
