"""Contract: GPU endpoint and base model repositories."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tarsify.domain.errors import AlreadyExists, StorageError
from tarsify.domain.models import EndpointSource, ModelCategory, OutputType, Provider
from tarsify.domain.pagination import Cursor, PageRequest
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import at, base_model, endpoint

RUNPOD, FAL = Provider.RUNPOD, Provider.FAL


async def test_endpoint_round_trip_and_update(uow_factory: UnitOfWorkFactory) -> None:
    ep = endpoint(source=EndpointSource.CUSTOM, docker_image="ghcr.io/x/y:1")
    async with uow_factory() as uow:
        await uow.endpoints.add(ep)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.endpoints.get(ep.id) == ep
        assert await uow.endpoints.get_by_provider_id(RUNPOD, ep.provider_endpoint_id) == ep
        assert await uow.endpoints.get_by_provider_id(RUNPOD, "missing") is None
        assert await uow.endpoints.get_by_provider_id(FAL, ep.provider_endpoint_id) is None
        ep.name, ep.is_active, ep.gpu_type, ep.updated_at = "renamed", False, "H100", at(9)
        ep.provider_endpoint_id, ep.docker_image = "rp-new", None
        await uow.endpoints.update(ep)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.endpoints.get(ep.id) == ep
        assert await uow.endpoints.get_by_provider_id(RUNPOD, "rp-new") == ep


async def test_endpoint_provider_id_is_unique(uow_factory: UnitOfWorkFactory) -> None:
    first, second = endpoint(provider_endpoint_id="rp-1"), endpoint()
    async with uow_factory() as uow:
        await uow.endpoints.add(first)
        await uow.endpoints.add(second)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.endpoints.add(endpoint(provider_endpoint_id="rp-1"))
        second.provider_endpoint_id = "rp-1"
        with pytest.raises(AlreadyExists):
            await uow.endpoints.update(second)


async def test_endpoint_provider_id_is_unique_per_provider(uow_factory: UnitOfWorkFactory) -> None:
    on_runpod = endpoint(provider_endpoint_id="shared/id")
    on_fal = endpoint(provider_endpoint_id="shared/id", provider=FAL, gpu_type=None)
    async with uow_factory() as uow:
        await uow.endpoints.add(on_runpod)
        await uow.endpoints.add(on_fal)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.endpoints.get_by_provider_id(FAL, "shared/id") == on_fal
        assert await uow.endpoints.get_by_provider_id(RUNPOD, "shared/id") == on_runpod
        with pytest.raises(AlreadyExists):
            await uow.endpoints.add(endpoint(provider_endpoint_id="shared/id", provider=FAL))


async def test_endpoint_list_counts_base_models_newest_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    eps = [endpoint(created_at=at(i)) for i in range(3)]
    async with uow_factory() as uow:
        for ep in eps:
            await uow.endpoints.add(ep)
        await uow.base_models.add(base_model(eps[0].id))
        await uow.base_models.add(base_model(eps[0].id, is_active=False))
        await uow.base_models.add(base_model(eps[2].id))
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.endpoints.list(PageRequest(limit=2))
        assert first.next_cursor is not None
        rest = await uow.endpoints.list(
            PageRequest(limit=2, after=Cursor.decode(first.next_cursor))
        )
    rows = first.items + rest.items
    assert [r.endpoint.id for r in rows] == [eps[2].id, eps[1].id, eps[0].id]
    assert [r.base_model_count for r in rows] == [1, 0, 2]
    assert rest.next_cursor is None
    assert rows[0].endpoint == eps[2]


LARGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        f"field_{i}": {
            "type": "string",
            "description": "ünïcödé ✓ 画像 🚀 " * 5,
            "enum": [f"v{j}" for j in range(20)],
            "nested": {"deep": {"deeper": [1, 2.5, True, None, {"k": "v"}]}},
        }
        for i in range(300)
    },
}


async def test_base_model_round_trip_with_large_json(uow_factory: UnitOfWorkFactory) -> None:
    ep = endpoint()
    bm = base_model(
        ep.id,
        input_schema=LARGE_SCHEMA,
        description="Génère des images — 画像生成",
        category=ModelCategory.AUDIO,
        output_type=OutputType.AUDIO,
        output_format="wav",
        estimated_seconds=7,
    )
    async with uow_factory() as uow:
        await uow.endpoints.add(ep)
        await uow.base_models.add(bm)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.base_models.get(bm.id) == bm
        assert await uow.base_models.get_by_slug(bm.slug) == bm
        assert await uow.base_models.get(uuid.uuid4()) is None
        assert await uow.base_models.get_by_slug("nope") is None


async def test_base_model_update_and_slug_uniqueness(uow_factory: UnitOfWorkFactory) -> None:
    ep, other_ep = endpoint(), endpoint()
    one, two = base_model(ep.id, slug="one"), base_model(ep.id, slug="two")
    async with uow_factory() as uow:
        await uow.endpoints.add(ep)
        await uow.endpoints.add(other_ep)
        await uow.base_models.add(one)
        await uow.base_models.add(two)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.base_models.add(base_model(ep.id, slug="one"))
        two.slug = "one"
        with pytest.raises(AlreadyExists):
            await uow.base_models.update(two)
    async with uow_factory() as uow:
        one.endpoint_id, one.is_active, one.input_schema = other_ep.id, False, {"type": "object"}
        one.description, one.updated_at = None, at(60)
        await uow.base_models.update(one)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.base_models.get(one.id) == one


async def test_base_model_needs_an_existing_endpoint(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(StorageError) as info:
            await uow.base_models.add(base_model(uuid.uuid4()))
    assert "INSERT" not in str(info.value)


async def test_base_model_list_with_endpoints_and_browsable_filter(
    uow_factory: UnitOfWorkFactory,
) -> None:
    live, dead = endpoint(), endpoint(is_active=False)
    ok = base_model(live.id, created_at=at(3))
    inactive = base_model(live.id, created_at=at(2), is_active=False)
    on_dead = base_model(dead.id, created_at=at(1))
    async with uow_factory() as uow:
        await uow.endpoints.add(live)
        await uow.endpoints.add(dead)
        for bm in (on_dead, ok, inactive):
            await uow.base_models.add(bm)
        await uow.commit()
    async with uow_factory() as uow:
        everything = await uow.base_models.list(PageRequest())
        browsable = await uow.base_models.list(PageRequest(), browsable_only=True)
    assert [r.base_model.id for r in everything.items] == [ok.id, inactive.id, on_dead.id]
    assert [r.endpoint for r in everything.items] == [live, live, dead]
    assert everything.items[0].base_model == ok
    assert [r.base_model.id for r in browsable.items] == [ok.id]
    assert browsable.next_cursor is None
