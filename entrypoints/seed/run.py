"""``tarsify seed``: register the catalog (and, with ``--demo``, demo users and models).

Idempotent: what exists is left alone, so running it twice changes nothing. The one
exception is deliberate: an endpoint still on a placeholder id is switched to the real id
once its environment variable is set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from entrypoints.seed.catalog_data import BASE_MODELS, ENDPOINTS, PLACEHOLDER_PREFIX
from tarsify.domain.config import ConfigOverrides
from tarsify.domain.errors import AlreadyRegistered
from tarsify.domain.models import (
    EndpointSource,
    Identity,
    ModelCategory,
    OutputType,
    Provider,
    TarsModelStatus,
)
from tarsify.ports.identity import Audience
from tarsify.services.accounts import AccountService
from tarsify.services.catalog import CatalogService, NewBaseModel, NewEndpoint
from tarsify.services.credits import CreditsService
from tarsify.services.studio import NewTarsModel, StudioService

DEMO_DEVELOPER = Identity(
    uid="demo-developer",
    email="dev@demo.tarsify.local",
    audience=Audience.DEVELOPERS,
    name="Demo Studio",
)
DEMO_CONSUMER = Identity(
    uid="demo-consumer",
    email="consumer@demo.tarsify.local",
    audience=Audience.CONSUMERS,
    name="Demo Consumer",
)

# The demo consumer's balance after every ``seed --demo`` (runs cost 2 to 5 credits).
DEMO_CREDITS = 1000

DEMO_MODELS = [
    (
        "sdxl-image",
        NewTarsModel(
            base_model_id=None,  # type: ignore[arg-type]  # filled in at seed time
            title="Cartoon Portraits",
            slug="cartoon-portraits",
            description="Turns a short description into a bright cartoon portrait.",
            config_overrides=ConfigOverrides(
                default_inputs={"width": 768, "height": 768, "num_inference_steps": 30},
                locked_inputs={"num_images": 1},
                hidden_fields=("scheduler", "refiner_inference_steps", "high_noise_frac"),
                prompt_prefix="a colourful cartoon portrait of ",
                prompt_suffix=", clean lines, studio lighting",
            ),
            price_per_run=5,
        ),
    ),
    (
        "llm-text",
        NewTarsModel(
            base_model_id=None,  # type: ignore[arg-type]
            title="Story Writer",
            slug="story-writer",
            description="Writes a short story from your idea, word by word as you watch.",
            config_overrides=ConfigOverrides(
                default_inputs={"max_tokens": 300},
                prompt_prefix="Write a short story about ",
            ),
            price_per_run=2,
        ),
    ),
    (
        "chatterbox-tts",
        NewTarsModel(
            base_model_id=None,  # type: ignore[arg-type]
            title="Storyteller Voice",
            slug="storyteller-voice",
            description="Reads your text aloud in a warm storyteller voice.",
            config_overrides=ConfigOverrides(
                locked_inputs={"voice": "lucy"},
                default_inputs={"format": "wav"},
                hidden_fields=("voice_url",),
            ),
            price_per_run=3,
        ),
    ),
    (
        "flux-schnell",
        NewTarsModel(
            base_model_id=None,  # type: ignore[arg-type]
            title="Quick Sketches",
            slug="quick-sketches",
            description="A pencil sketch of anything in a second or two (FLUX on fal).",
            config_overrides=ConfigOverrides(
                default_inputs={"image_size": "square"},
                locked_inputs={"num_images": 1},
                hidden_fields=("enable_safety_checker",),
                prompt_prefix="a loose pencil sketch of ",
            ),
            price_per_run=2,
        ),
    ),
]


@dataclass
class SeedReport:
    """What a seed run created or changed (names), and what it left alone."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


async def seed_catalog(
    catalog: CatalogService,
    env: Mapping[str, str],
    report: SeedReport,
    progress: Callable[[str], None] = lambda _: None,
) -> None:
    """Register the endpoints and base models of ``catalog_data``."""
    endpoint_ids = {}
    for spec in ENDPOINTS:
        real = env.get(spec.env, "").strip() or spec.default_id
        provider = Provider(spec.provider)
        if provider not in catalog.providers:
            report.skipped.append(f"endpoint {spec.name} ({provider.value}: no credentials)")
            continue
        placeholder_id = f"{PLACEHOLDER_PREFIX}{spec.env.lower().replace('_', '-')}"
        provider_id = real or placeholder_id
        if not real:
            report.placeholders.append(spec.env)
        existing = await catalog.find_endpoint(provider_id, provider)
        if existing is None and real:
            stale = await catalog.find_endpoint(placeholder_id, provider)
            if stale is not None:
                existing = await catalog.update_endpoint(stale.id, {"provider_endpoint_id": real})
                report.updated.append(f"endpoint {spec.name}")
        if existing is None:
            existing = await catalog.create_endpoint(
                NewEndpoint(
                    provider_endpoint_id=provider_id,
                    name=spec.name if real else f"{spec.name} (placeholder)",
                    gpu_type=spec.gpu_type,
                    source=EndpointSource.HUB,
                    docker_image=spec.docker_image,
                    provider=provider,
                )
            )
            report.created.append(f"endpoint {spec.name}")
        else:
            report.unchanged.append(f"endpoint {spec.name}")
        endpoint_ids[spec.env] = existing.id
        progress(f"endpoint {spec.name}: {provider_id}")
    for model in BASE_MODELS:
        if model.endpoint_env not in endpoint_ids:
            continue  # its endpoint was skipped
        if await catalog.find_base_model(model.slug) is not None:
            report.unchanged.append(f"base model {model.slug}")
        else:
            await catalog.create_base_model(
                NewBaseModel(
                    endpoint_id=endpoint_ids[model.endpoint_env],
                    slug=model.slug,
                    name=model.name,
                    description=model.description,
                    category=ModelCategory(model.category),
                    input_schema=model.input_schema,
                    output_type=OutputType(model.output_type),
                    output_format=model.output_format,
                    estimated_seconds=model.estimated_seconds,
                    streaming=model.streaming,
                )
            )
            report.created.append(f"base model {model.slug}")
        progress(f"base model {model.slug}")


async def seed_demo(
    accounts: AccountService,
    catalog: CatalogService,
    studio: StudioService,
    report: SeedReport,
    credits: CreditsService,
) -> None:
    """A demo developer with three priced, published Tars models, and a demo consumer whose
    credits are topped up to ``DEMO_CREDITS`` (so the walkthrough can run again)."""
    try:
        developer = await accounts.register_developer(DEMO_DEVELOPER, DEMO_DEVELOPER.name)
        report.created.append("developer demo-developer")
    except AlreadyRegistered:
        developer = await accounts.get_developer(DEMO_DEVELOPER)
    try:
        consumer = await accounts.register_consumer(DEMO_CONSUMER, DEMO_CONSUMER.name)
        report.created.append("consumer demo-consumer")
    except AlreadyRegistered:
        consumer = await accounts.get_consumer(DEMO_CONSUMER)
        report.unchanged.append("consumer demo-consumer")
    balance = (await credits.consumer_credits(consumer.id)).balance
    if balance < DEMO_CREDITS:
        await credits.grant(DEMO_CONSUMER.uid, DEMO_CREDITS - balance, "demo credits")
        report.updated.append(f"credits of demo-consumer ({balance} -> {DEMO_CREDITS})")
    for base_slug, template in DEMO_MODELS:
        assert template.slug is not None
        if await studio.find_by_slug(developer.id, template.slug) is not None:
            report.unchanged.append(f"tars model {template.slug}")
            continue
        base = await catalog.find_base_model(base_slug)
        if base is None:
            continue  # on a provider without credentials: seed_catalog skipped it
        created = await studio.create(
            developer.id,
            NewTarsModel(
                base_model_id=base.id,
                title=template.title,
                slug=template.slug,
                description=template.description,
                config_overrides=template.config_overrides,
                price_per_run=template.price_per_run,
            ),
        )
        await studio.update(developer.id, created.model.id, {"status": TarsModelStatus.PUBLISHED})
        report.created.append(f"tars model {template.slug} (published)")
