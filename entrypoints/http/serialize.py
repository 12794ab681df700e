"""Domain objects to response views, one function per resource and audience."""

from __future__ import annotations

from tarsify.domain import models as m
from tarsify.services.marketplace import MarketplaceDetail
from tarsify.services.studio import StudioModel

from . import views as v


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


def tars_summary(t: m.TarsModel) -> v.TarsModelSummary:
    """A Tars model in its developer's list."""
    return v.TarsModelSummary.model_validate(_tars_fields(t))


def tars_model(studio: StudioModel, base: m.BaseModel | None) -> v.TarsModelView:
    """One Tars model with its base model and publish problems."""
    ref = (
        None
        if base is None
        else v.BaseModelRef(id=base.id, slug=base.slug, name=base.name, category=base.category)
    )
    fields = _tars_fields(studio.model) | {
        "base_model": ref,
        "problems": [
            v.Problem(field=str(p.get("field", "")), message=str(p.get("message", "")))
            for p in studio.problems
        ],
    }
    return v.TarsModelView.model_validate(fields)


def _market_fields(entry: m.MarketplaceEntry) -> dict[str, object]:
    t, b = entry.tars_model, entry.base_model
    return {
        "slug": t.slug,
        "title": t.title,
        "description": t.description,
        "category": b.category,
        "output_type": b.output_type,
        "estimated_seconds": b.estimated_seconds,
        "price_per_run": entry.price,
        "developer_name": entry.developer_name,
        "published_at": t.published_at,
    }


def marketplace_detail(detail: MarketplaceDetail) -> v.MarketplaceDetailView:
    """A published model with its processed input schema."""
    fields = _market_fields(detail.entry) | {"input_schema": detail.input_schema}
    return v.MarketplaceDetailView.model_validate(fields)
