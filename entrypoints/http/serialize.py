"""Domain objects to response views, one function per resource and audience."""

from __future__ import annotations

from tarsify.domain import models as m
from tarsify.services.marketplace import MarketplaceDetail

from . import views as v


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
