"""A small marketplace on in-memory adapters, for testing the use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from adapters.memory.clock import ManualClock
from adapters.memory.gpu import FakeGpuProvider
from adapters.memory.uow import MemoryStore
from tarsify.domain.config import ConfigOverrides
from tarsify.domain.models import Identity, ModelCategory, OutputType, TarsModelStatus
from tarsify.ports.clock import Clock
from tarsify.ports.identity import Audience
from tarsify.ports.provider import CallbackUrlBuilder
from tarsify.services.accounts import AccountService
from tarsify.services.catalog import CatalogService, NewBaseModel, NewEndpoint
from tarsify.services.engine.dispatch import Dispatcher
from tarsify.services.engine.executions import ExecutionService
from tarsify.services.engine.listeners import Listeners
from tarsify.services.engine.reconciler import Reconciler
from tarsify.services.engine.run_targets import RunTargets
from tarsify.services.engine.settings import EngineSettings
from tarsify.services.files import OutputFiles
from tarsify.services.marketplace import MarketplaceService
from tarsify.services.studio import NewTarsModel, StudioService

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "width": {"type": "integer", "minimum": 256, "maximum": 2048, "default": 1024},
        "num_images": {"type": "integer", "enum": [1, 2]},
        "seed": {"type": "integer"},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}
CONFIG: dict[str, Any] = {
    "defaultInputs": {"width": 768},
    "lockedInputs": {"num_images": 1},
    "hiddenFields": ["seed"],
    "promptPrefix": "art: ",
}


class StaticCallbacks:
    """Provider callbacks switched on, with a fixed URL per execution."""

    def url_for(self, execution_id: uuid.UUID) -> str:
        """A callback URL naming the execution."""
        return f"https://tarsify.test/webhooks/{execution_id}"


@dataclass
class World:
    """Services wired on fakes, plus the ids of one published model and two consumers."""

    clock: Clock
    store: MemoryStore = field(default_factory=MemoryStore)
    gpu: FakeGpuProvider = field(default_factory=FakeGpuProvider)
    settings: EngineSettings = field(default_factory=EngineSettings)
    callbacks: CallbackUrlBuilder | None = None
    files: OutputFiles | None = None
    listeners: Listeners | None = None

    def __post_init__(self) -> None:
        uow = self.store.unit_of_work
        self.accounts = AccountService(uow, self.clock)
        self.targets = RunTargets(uow, self.clock, self.settings.run_target_ttl_s)
        self.catalog = CatalogService(uow, self.clock, self.targets.forget)
        self.studio = StudioService(uow, self.clock, self.targets.forget)
        self.marketplace = MarketplaceService(uow)
        self.dispatcher = Dispatcher(
            uow, self.gpu, self.clock, self.settings, self.callbacks, self.files, self.listeners
        )
        self.executions = ExecutionService(
            uow, self.dispatcher, self.clock, self.settings, self.listeners, self.targets
        )
        self.reconciler = Reconciler(uow, self.dispatcher, self.clock, self.settings)

    async def build(self) -> World:
        """Register an endpoint, a base model, a developer with a published model, consumers."""
        self.endpoint = await self.catalog.create_endpoint(
            NewEndpoint(provider_endpoint_id="rp-endpoint-secret", name="SDXL", gpu_type="A5000")
        )
        self.base = (
            await self.catalog.create_base_model(
                NewBaseModel(
                    endpoint_id=self.endpoint.id,
                    slug="sdxl",
                    name="SDXL",
                    category=ModelCategory.IMAGE,
                    input_schema=SCHEMA,
                    output_type=OutputType.IMAGE,
                    output_format="png",
                    estimated_seconds=30,
                )
            )
        ).base_model
        self.developer = await self.accounts.register_developer(
            Identity("dev-x", "x@example.com", Audience.DEVELOPERS), "Studio X"
        )
        created = await self.studio.create(
            self.developer.id,
            NewTarsModel(
                base_model_id=self.base.id,
                title="Art Maker",
                config_overrides=ConfigOverrides.parse(CONFIG),
            ),
        )
        self.model = (
            await self.studio.update(
                self.developer.id, created.model.id, {"status": TarsModelStatus.PUBLISHED}
            )
        ).model
        self.alice = await self.accounts.register_consumer(
            Identity("alice", "a@example.com", Audience.CONSUMERS), "Alice"
        )
        self.bob = await self.accounts.register_consumer(
            Identity("bob", "b@example.com", Audience.CONSUMERS), "Bob"
        )
        return self

    async def stored(self, execution_id: uuid.UUID) -> Any:
        """The committed execution, read through a fresh unit of work."""
        async with self.store.unit_of_work() as uow:
            return await uow.executions.get(execution_id)

    async def count_executions(self) -> int:
        """How many executions are stored for Alice and Bob."""
        from tarsify.domain.pagination import PageRequest

        total = 0
        for consumer in (self.alice, self.bob):
            async with self.store.unit_of_work() as uow:
                page = await uow.executions.list_for_consumer(consumer.id, PageRequest(limit=100))
            total += len(page.items)
        return total


async def make_world(clock: Clock | None = None, **kwargs: Any) -> World:
    """A built world on a manual clock unless another clock is given."""
    return await World(clock=clock or ManualClock(), **kwargs).build()
