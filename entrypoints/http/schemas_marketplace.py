"""The marketplace's answers: published models, listed and one by one.

A list item is built as plain data (``marketplace_item``, see ``encoding``); its view
``MarketplaceItem`` documents it.
"""

from __future__ import annotations

from typing import Any

from tarsify.domain import models as m
from tarsify.domain.models import ModelCategory, OutputType
from tarsify.services.marketplace import MarketplaceDetail

from .encoding import Json
from .schemas import Timestamp, View


class MarketplaceItem(View):
    """A published model in the marketplace."""

    slug: str
    title: str
    description: str | None
    category: ModelCategory
    output_type: OutputType
    estimated_seconds: int
    price_per_run: int
    developer_name: str | None
    published_at: Timestamp | None


class MarketplaceDetailView(MarketplaceItem):
    """A published model with the input schema consumers fill in."""

    input_schema: dict[str, Any]
    streaming: bool


def marketplace_item(item: m.MarketplaceListing) -> Json:
    """A published model in the marketplace list."""
    return {
        "slug": item.slug,
        "title": item.title,
        "description": item.description,
        "category": item.category.value,
        "outputType": item.output_type.value,
        "estimatedSeconds": item.estimated_seconds,
        "pricePerRun": item.price,
        "developerName": item.developer_name,
        "publishedAt": item.published_at,
    }


def marketplace_detail_view(detail: MarketplaceDetail) -> MarketplaceDetailView:
    """A published model with its processed input schema."""
    entry = detail.entry
    t, b = entry.tars_model, entry.base_model
    return MarketplaceDetailView(
        slug=t.slug,
        title=t.title,
        description=t.description,
        category=b.category,
        output_type=b.output_type,
        estimated_seconds=b.estimated_seconds,
        price_per_run=entry.price,
        developer_name=entry.developer_name,
        published_at=t.published_at,
        input_schema=detail.input_schema,
        streaming=b.streaming,
    )
