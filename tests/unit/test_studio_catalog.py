"""Catalog (admin), studio (developer) and marketplace use cases on fakes."""

from __future__ import annotations

import uuid

import pytest

from tarsify.domain.config import ConfigOverrides
from tarsify.domain.errors import (
    AlreadyExists,
    AlreadyRegistered,
    BaseModelNotFound,
    InvalidBody,
    InvalidStatusTransition,
    NotFound,
    SlugAlreadyExists,
    TarsModelNotFound,
    UserNotRegistered,
)
from tarsify.domain.models import Identity, ModelCategory, OutputType, TarsModelStatus
from tarsify.domain.pagination import PageRequest
from tarsify.ports.identity import Audience
from tarsify.services.catalog import NewBaseModel, NewEndpoint
from tarsify.services.studio import NewTarsModel
from tests.unit.world import SCHEMA, make_world


def new_base(endpoint_id: uuid.UUID, **over: object) -> NewBaseModel:
    fields: dict[str, object] = {
        "endpoint_id": endpoint_id,
        "slug": "tts",
        "name": "TTS",
        "category": ModelCategory.AUDIO,
        "input_schema": SCHEMA,
        "output_type": OutputType.AUDIO,
        "output_format": "wav",
    }
    fields.update(over)
    return NewBaseModel(**fields)  # type: ignore[arg-type]


async def test_endpoint_provider_id_is_unique() -> None:
    w = await make_world()
    with pytest.raises(AlreadyExists):
        await w.catalog.create_endpoint(
            NewEndpoint(provider_endpoint_id="rp-endpoint-secret", name="dup", gpu_type="A")
        )


async def test_endpoint_list_counts_base_models() -> None:
    w = await make_world()
    await w.catalog.create_base_model(new_base(w.endpoint.id))
    page = await w.catalog.list_endpoints(PageRequest())
    [row] = page.items
    assert row.base_model_count == 2


async def test_base_model_create_validates_everything() -> None:
    w = await make_world()
    with pytest.raises(NotFound):
        await w.catalog.create_base_model(new_base(uuid.uuid4()))
    with pytest.raises(InvalidBody):
        await w.catalog.create_base_model(new_base(w.endpoint.id, slug="Bad Slug"))
    with pytest.raises(InvalidBody):
        await w.catalog.create_base_model(new_base(w.endpoint.id, input_schema={"type": "array"}))
    with pytest.raises(AlreadyExists):
        await w.catalog.create_base_model(new_base(w.endpoint.id, slug="sdxl"))
    page = await w.catalog.list_base_models(PageRequest())
    assert [m.base_model.slug for m in page.items] == ["sdxl"]


async def test_deactivated_base_models_leave_developer_browsing() -> None:
    w = await make_world()
    await w.catalog.create_base_model(new_base(w.endpoint.id))
    await w.catalog.deactivate_base_model(w.base.id)
    browsable = await w.catalog.list_base_models(PageRequest(), browsable_only=True)
    assert [m.base_model.slug for m in browsable.items] == ["tts"]
    await w.catalog.deactivate_endpoint(w.endpoint.id)
    assert (await w.catalog.list_base_models(PageRequest(), browsable_only=True)).items == []
    assert len((await w.catalog.list_base_models(PageRequest())).items) == 2


async def test_registration_is_once_per_identity() -> None:
    w = await make_world()
    who = Identity("dev-y", "y@example.com", Audience.DEVELOPERS)
    with pytest.raises(UserNotRegistered):
        await w.accounts.get_developer(who)
    await w.accounts.register_developer(who, None)
    with pytest.raises(AlreadyRegistered):
        await w.accounts.register_developer(who, None)
    assert (await w.accounts.developer_id(who)) == (await w.accounts.get_developer(who)).id


async def test_slug_is_generated_from_the_title_and_kept_unique() -> None:
    w = await make_world()
    a = await w.studio.create(w.developer.id, NewTarsModel(w.base.id, "Art Maker"))
    b = await w.studio.create(w.developer.id, NewTarsModel(w.base.id, "Ärt Maker!"))
    assert w.model.slug == "art-maker"
    assert {a.model.slug, b.model.slug} == {"art-maker-2", "art-maker-3"}
    with pytest.raises(SlugAlreadyExists):
        await w.studio.create(w.developer.id, NewTarsModel(w.base.id, "X", slug="art-maker"))


async def test_create_on_unknown_base_model() -> None:
    w = await make_world()
    with pytest.raises(BaseModelNotFound):
        await w.studio.create(w.developer.id, NewTarsModel(uuid.uuid4(), "X"))
    with pytest.raises(BaseModelNotFound):
        await w.studio.create(w.developer.id, NewTarsModel("no-such-base", "X"))


async def test_create_names_the_base_model_by_slug() -> None:
    w = await make_world()
    created = await w.studio.create(w.developer.id, NewTarsModel(w.base.slug, "By Slug"))
    assert created.model.base_model_id == w.base.id


async def test_publish_is_refused_with_every_problem() -> None:
    w = await make_world()
    created = await w.studio.create(
        w.developer.id,
        NewTarsModel(
            w.base.id,
            "Broken",
            config_overrides=ConfigOverrides(
                hidden_fields=("prompt",), default_inputs={"width": 1}
            ),
        ),
    )
    assert len(created.problems) == 2
    with pytest.raises(InvalidStatusTransition) as info:
        await w.studio.update(
            w.developer.id, created.model.id, {"status": TarsModelStatus.PUBLISHED}
        )
    assert sorted(p["field"] for p in info.value.details) == [
        "configOverrides.defaultInputs.width",
        "configOverrides.hiddenFields.prompt",
    ]
    stored = await w.studio.get(w.developer.id, created.model.id)
    assert stored.model.status is TarsModelStatus.DRAFT and stored.model.published_at is None


async def test_publish_sets_published_at_and_lists_in_marketplace() -> None:
    w = await make_world()
    assert w.model.published_at is not None
    page = await w.marketplace.list(PageRequest())
    assert [e.slug for e in page.items] == [w.model.slug]
    assert page.items[0].developer_name == "Studio X"
    assert (await w.marketplace.list(PageRequest(), ModelCategory.AUDIO)).items == []
    detail = await w.marketplace.detail(w.model.slug)
    props = detail.input_schema["properties"]
    assert "seed" not in props and props["num_images"]["readOnly"] is True
    assert "art: " not in repr(detail.input_schema)


async def test_archived_and_draft_models_leave_the_marketplace() -> None:
    w = await make_world()
    await w.studio.archive(w.developer.id, w.model.id)
    assert (await w.marketplace.list(PageRequest())).items == []
    with pytest.raises(TarsModelNotFound):
        await w.marketplace.detail(w.model.slug)
    with pytest.raises(InvalidStatusTransition):
        await w.studio.update(w.developer.id, w.model.id, {"status": TarsModelStatus.PUBLISHED})


async def test_a_published_model_cannot_take_a_broken_config() -> None:
    w = await make_world()
    with pytest.raises(InvalidStatusTransition):
        await w.studio.update(
            w.developer.id,
            w.model.id,
            {"config_overrides": ConfigOverrides(hidden_fields=("prompt",))},
        )
    kept = await w.studio.get(w.developer.id, w.model.id)
    assert kept.model.config_overrides is not None
    assert kept.model.config_overrides["hiddenFields"] == ["seed"]


async def test_developers_only_see_their_own_models() -> None:
    w = await make_world()
    other = await w.accounts.register_developer(
        Identity("dev-y", "y@example.com", Audience.DEVELOPERS), None
    )
    with pytest.raises(TarsModelNotFound):
        await w.studio.get(other.id, w.model.id)
    with pytest.raises(TarsModelNotFound):
        await w.studio.update(other.id, w.model.id, {"title": "mine"})
    assert (await w.studio.list(other.id, PageRequest())).items == []
    assert len((await w.studio.list(w.developer.id, PageRequest())).items) == 1


async def test_deactivating_the_endpoint_hides_its_models() -> None:
    w = await make_world()
    await w.catalog.deactivate_endpoint(w.endpoint.id)
    assert (await w.marketplace.list(PageRequest())).items == []
