"""The catalog's entities apply an admin's typed changes; slugs follow one rule."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from entrypoints.http.schemas_catalog import BaseModelUpdate, EndpointUpdate
from entrypoints.http.schemas_studio import TarsModelUpdate
from tarsify.domain.catalog import (
    BaseModel,
    BaseModelChanges,
    EndpointChanges,
    EndpointSource,
    GpuEndpoint,
    ModelCategory,
    OutputType,
)
from tarsify.domain.errors import InvalidBody
from tarsify.domain.slugs import NUMBERED_SLUGS, check_slug, random_slug, slug_candidates
from tarsify.domain.tars_model import TarsModelChanges

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)
SCHEMA: dict[str, Any] = {"type": "object", "properties": {"prompt": {"type": "string"}}}


def endpoint() -> GpuEndpoint:
    return GpuEndpoint(
        uuid.uuid4(), "rp-1", "SDXL", "A5000", T0, T0, EndpointSource.CUSTOM, "img:1", True
    )


def base_model() -> BaseModel:
    return BaseModel(
        id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        slug="sdxl",
        name="SDXL",
        category=ModelCategory.IMAGE,
        input_schema=SCHEMA,
        output_type=OutputType.IMAGE,
        output_format="png",
        created_at=T0,
        updated_at=T0,
        description="old",
        estimated_seconds=30,
        is_active=True,
        min_price_per_run=5,
    )


def test_what_catalog_entries_start_with() -> None:
    e = GpuEndpoint(uuid.uuid4(), "rp-1", "SDXL", "A5000", T0, T0)
    assert (e.source, e.docker_image, e.is_active) == (EndpointSource.HUB, None, True)
    b = BaseModel(
        uuid.uuid4(), uuid.uuid4(), "s", "S", ModelCategory.TEXT, SCHEMA, OutputType.TEXT,
        "txt", T0, T0,
    )  # fmt: skip
    assert (b.description, b.estimated_seconds, b.is_active, b.min_price_per_run) == (
        None,
        30,
        True,
        0,
    )


def test_every_change_is_optional() -> None:
    for changes in (EndpointChanges, BaseModelChanges):
        assert changes.__optional_keys__ == frozenset(changes.__annotations__)
        assert changes.__required_keys__ == frozenset()


def test_an_endpoint_changes_only_what_is_given() -> None:
    e = endpoint()
    e.change({}, T1)
    assert (e.provider_endpoint_id, e.name, e.gpu_type) == ("rp-1", "SDXL", "A5000")
    assert (e.source, e.docker_image, e.is_active, e.updated_at) == (
        EndpointSource.CUSTOM,
        "img:1",
        True,
        T1,
    )
    every: EndpointChanges = {
        "provider_endpoint_id": "rp-2",
        "name": "N",
        "gpu_type": "L4",
        "source": EndpointSource.HUB,
        "docker_image": None,
        "is_active": False,
    }
    e.change(every, T1)
    assert (e.provider_endpoint_id, e.name, e.gpu_type) == ("rp-2", "N", "L4")
    assert (e.source, e.docker_image, e.is_active) == (EndpointSource.HUB, None, False)
    assert e.created_at == T0


def test_a_base_model_changes_only_what_is_given() -> None:
    b = base_model()
    before = {name: getattr(b, name) for name in BaseModelChanges.__annotations__}
    b.change({}, T1)
    assert {name: getattr(b, name) for name in BaseModelChanges.__annotations__} == before
    assert b.updated_at == T1
    new_endpoint = uuid.uuid4()
    every: BaseModelChanges = {
        "endpoint_id": new_endpoint,
        "slug": "sdxl-2",
        "name": "N",
        "description": None,
        "category": ModelCategory.TEXT,
        "input_schema": {"type": "object"},
        "output_type": OutputType.JSON,
        "output_format": "json",
        "estimated_seconds": 5,
        "is_active": False,
        "min_price_per_run": 0,
        "streaming": True,
    }
    b.change(every, T1)
    assert {name: getattr(b, name) for name in BaseModelChanges.__annotations__} == every


def test_a_base_model_change_is_checked_before_any_model_is_read() -> None:
    BaseModel.check_changes({"name": "anything", "slug": "ok-slug", "input_schema": SCHEMA})
    with pytest.raises(InvalidBody) as bad_slug:
        BaseModel.check_changes({"slug": "Not A Slug"})
    assert bad_slug.value.details[0]["field"] == "slug"
    with pytest.raises(InvalidBody) as bad_schema:
        BaseModel.check_changes({"input_schema": {"type": "array"}})
    assert str(bad_schema.value) == "inputSchema is not a valid JSON Schema of type object"
    assert bad_schema.value.details == [
        {"field": "inputSchema.type", "message": "must be 'object'"}
    ]


def test_patch_bodies_name_the_fields_of_the_core_changes() -> None:
    """The HTTP layer hands its validated PATCH fields to the core as these types."""
    assert set(TarsModelUpdate.model_fields) == set(TarsModelChanges.__annotations__)
    assert set(BaseModelUpdate.model_fields) == set(BaseModelChanges.__annotations__)
    endpoint_fields = set(EndpointUpdate.model_fields) - {"runpod_endpoint_id"}
    assert endpoint_fields | {"provider_endpoint_id"} == set(EndpointChanges.__annotations__)


# --- slugs ---------------------------------------------------------------------------


def test_a_slug_has_at_most_100_characters_unless_said() -> None:
    assert check_slug("a" * 100) == "a" * 100
    with pytest.raises(InvalidBody):
        check_slug("a" * 101)


@pytest.mark.parametrize(
    ("slug", "max_length", "ok"),
    [
        ("ab", 100, True),
        ("a", 100, False),
        ("a" * 100, 100, True),
        ("a" * 101, 100, False),
        ("a" * 101, 200, True),
        ("a-b-c1", 100, True),
        ("-ab", 100, False),
        ("ab-", 100, False),
        ("a--b", 100, False),
        ("Ab", 100, False),
    ],
)
def test_check_slug(slug: str, max_length: int, ok: bool) -> None:
    if ok:
        assert check_slug(slug, max_length=max_length) == slug
        return
    with pytest.raises(InvalidBody) as caught:
        check_slug(slug, field="baseSlug", max_length=max_length)
    assert caught.value.details == [
        {
            "field": "baseSlug",
            "message": f"2-{max_length} characters: lowercase letters, digits and single "
            "hyphens, not at either end",
        }
    ]


def test_the_generated_slugs_of_a_title() -> None:
    candidates = list(slug_candidates("Ärt Maker!"))
    assert candidates[:3] == ["art-maker", "art-maker-2", "art-maker-3"]
    assert candidates[-1] == f"art-maker-{NUMBERED_SLUGS}" and NUMBERED_SLUGS == 48
    assert len(candidates) == len(set(candidates)) == NUMBERED_SLUGS
    assert next(slug_candidates("!!!")) == "model"
    assert next(slug_candidates("a")) == "a-model"
    assert next(slug_candidates("ab")) == "ab"
    assert len(next(slug_candidates("x" * 500))) == 190
    assert re.fullmatch(r"art-maker-[0-9a-f]{8}", random_slug("Art Maker"))
    assert random_slug("a").startswith("a-model-")
