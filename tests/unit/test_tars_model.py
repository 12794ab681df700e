"""The Tars model entity decides every change of a developer's model."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tarsify.domain.catalog import BaseModel, ModelCategory, OutputType
from tarsify.domain.config import ConfigOverrides
from tarsify.domain.errors import (
    BaseModelNotActive,
    InvalidBody,
    InvalidStatusTransition,
    SlugAlreadyExists,
)
from tarsify.domain.tars_model import TarsModel, TarsModelChanges
from tarsify.domain.tars_model import TarsModelStatus as S

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"prompt": {"type": "string"}, "width": {"type": "integer", "minimum": 256}},
    "required": ["prompt"],
}
GOOD = ConfigOverrides(default_inputs={"width": 512}, prompt_prefix="art: ")
# A hidden required field without a value, and a default its property refuses.
BROKEN = ConfigOverrides(hidden_fields=("prompt",), default_inputs={"width": 1})
BROKEN_FIELDS = ["configOverrides.defaultInputs.width", "configOverrides.hiddenFields.prompt"]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def base(**changes: Any) -> BaseModel:
    b = BaseModel(
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
        min_price_per_run=5,
    )
    return dataclasses.replace(b, **changes)


def draft(on: BaseModel | None = None, **kw: Any) -> TarsModel:
    fields: dict[str, Any] = {"title": "Art", "slug": "art", "config": GOOD, "price_per_run": 5}
    return TarsModel.create(uuid.uuid4(), uuid.uuid4(), on or base(), T0, **(fields | kw))


def published(on: BaseModel) -> TarsModel:
    model = draft(on)
    assert model.edit({"status": S.PUBLISHED}, on, at(1)) == []
    return model


def refused_unchanged(
    model: TarsModel,
    changes: TarsModelChanges,
    on: BaseModel | None,
    error: type[Exception],
    *,
    slug_taken: bool = False,
) -> Exception:
    before = dataclasses.replace(model)
    with pytest.raises(error) as caught:
        model.edit(changes, on, at(99), slug_taken=slug_taken)
    assert model == before  # nothing changed, not even updated_at
    return caught.value


# --- create --------------------------------------------------------------------------


def test_create_makes_a_draft_on_the_base_model() -> None:
    b = base()
    model = draft(b, description="d")
    assert (model.status, model.base_model_id, model.published_at) == (S.DRAFT, b.id, None)
    assert model.created_at == model.updated_at == T0
    assert model.config == GOOD and model.config_overrides == GOOD.to_json()
    assert (model.title, model.slug, model.description, model.price_per_run) == (
        "Art",
        "art",
        "d",
        5,
    )
    assert draft(b, config=None).config == ConfigOverrides()


def test_what_a_model_starts_with() -> None:
    model = TarsModel(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "T", "t", T0, T0)
    assert (model.status, model.price_per_run, model.published_at) == (S.DRAFT, 0, None)
    assert (model.description, model.config_overrides) == (None, None)
    free = base(min_price_per_run=0)
    created = TarsModel.create(uuid.uuid4(), uuid.uuid4(), free, T0, title="T", slug="tt")
    assert (created.price_per_run, created.description, created.config) == (
        0,
        None,
        ConfigOverrides(),
    )


def test_every_change_is_optional() -> None:
    assert TarsModelChanges.__optional_keys__ == frozenset(TarsModelChanges.__annotations__)
    assert TarsModelChanges.__required_keys__ == frozenset()


def test_create_refuses_an_inactive_base_model_first() -> None:
    with pytest.raises(BaseModelNotActive):
        draft(base(is_active=False), price_per_run=0, slug="X")
    assert draft(base(is_active=True)).status is S.DRAFT


def test_create_refuses_a_price_below_the_base_models_minimum() -> None:
    assert draft(base(min_price_per_run=5), price_per_run=5).price_per_run == 5
    with pytest.raises(InvalidBody) as caught:
        draft(base(min_price_per_run=5), price_per_run=4, slug="X")  # price before slug
    assert caught.value.details[0]["field"] == "pricePerRun"


@pytest.mark.parametrize(
    ("slug", "ok"),
    [("ab", True), ("a", False), ("a" * 200, True), ("a" * 201, False), ("a--b", False)],
)
def test_create_checks_the_slug(slug: str, ok: bool) -> None:
    if ok:
        assert draft(slug=slug).slug == slug
    else:
        with pytest.raises(InvalidBody) as caught:
            draft(slug=slug)
        assert caught.value.details[0]["field"] == "slug"


# --- status moves --------------------------------------------------------------------

ALLOWED = {
    (S.DRAFT, S.DRAFT),
    (S.DRAFT, S.PUBLISHED),
    (S.DRAFT, S.ARCHIVED),
    (S.PUBLISHED, S.PUBLISHED),
    (S.PUBLISHED, S.DRAFT),
    (S.PUBLISHED, S.ARCHIVED),
    (S.ARCHIVED, S.ARCHIVED),
    (S.ARCHIVED, S.DRAFT),
}


@pytest.mark.parametrize("before", list(S))
@pytest.mark.parametrize("after", list(S))
def test_status_moves(before: S, after: S) -> None:
    b = base()
    model = draft(b)
    model.status = before
    if (before, after) in ALLOWED:
        assert model.edit({"status": after}, b, at(5)) == []
        assert model.status is after and model.updated_at == at(5)
    else:
        error = refused_unchanged(model, {"status": after}, b, InvalidStatusTransition)
        assert str(error) == f"A {before} model cannot become {after}"
        assert error.details == [{"field": "status", "message": f"{before} -> {after} not allowed"}]


def test_publishing_sets_published_at_once_and_again_after_unpublishing() -> None:
    b = base()
    model = draft(b)
    model.edit({"title": "Still a draft"}, b, at(1))
    assert model.published_at is None
    model.edit({"status": S.PUBLISHED}, b, at(2))
    assert model.published_at == at(2)
    model.edit({"status": S.PUBLISHED, "title": "Renamed"}, b, at(3))
    assert model.published_at == at(2) and model.title == "Renamed"
    model.edit({"status": S.DRAFT}, b, at(4))
    assert model.published_at == at(2) and model.status is S.DRAFT
    model.edit({"status": S.PUBLISHED}, b, at(5))
    assert model.published_at == at(5)


def test_publishing_is_refused_with_every_problem_and_changes_nothing() -> None:
    b = base()
    model = draft(b, config=BROKEN)
    assert sorted(p["field"] for p in model.problems(b)) == BROKEN_FIELDS
    changes: TarsModelChanges = {"status": S.PUBLISHED, "title": "New"}
    error = refused_unchanged(model, changes, b, InvalidStatusTransition)
    assert sorted(p["field"] for p in error.details) == BROKEN_FIELDS
    assert model.status is S.DRAFT and model.published_at is None


def test_a_draft_takes_a_broken_config_and_reports_its_problems() -> None:
    b = base()
    model = draft(b)
    problems = model.edit({"config_overrides": BROKEN}, b, at(1))
    assert sorted(p["field"] for p in problems) == BROKEN_FIELDS
    assert model.config == BROKEN and model.updated_at == at(1)


def test_a_published_model_refuses_a_broken_config() -> None:
    b = base()
    model = published(b)
    error = refused_unchanged(model, {"config_overrides": BROKEN}, b, InvalidStatusTransition)
    assert sorted(p["field"] for p in error.details) == BROKEN_FIELDS
    assert model.edit({"config_overrides": BROKEN, "status": S.DRAFT}, b, at(2)) != []


def test_publishing_needs_an_active_existing_base_model() -> None:
    b = base()
    model = draft(b)
    inactive = dataclasses.replace(b, is_active=False)
    error = refused_unchanged(model, {"status": S.PUBLISHED}, inactive, InvalidStatusTransition)
    assert error.details == [{"field": "baseModelId", "message": "base model is not active"}]
    gone = refused_unchanged(model, {"status": S.PUBLISHED}, None, InvalidStatusTransition)
    assert gone.details == [{"field": "baseModelId", "message": "base model no longer exists"}]
    # Its problems are the configuration's only: an inactive base is a publishing matter.
    assert model.problems(inactive) == []
    assert model.edit({"status": S.ARCHIVED}, inactive, at(1)) == []


# --- slug, price, other fields -------------------------------------------------------


def test_new_slug_is_only_a_different_one() -> None:
    model = draft()
    assert model.new_slug({}) is None
    assert model.new_slug({"slug": "art"}) is None
    assert model.new_slug({"slug": "art-2"}) == "art-2"


def test_a_taken_new_slug_is_refused_and_an_unchanged_one_is_not() -> None:
    b = base()
    model = draft(b)
    refused_unchanged(model, {"slug": "other"}, b, SlugAlreadyExists, slug_taken=True)
    assert model.edit({"slug": "art", "title": "T"}, b, at(1), slug_taken=True) == []
    model.edit({"slug": "other"}, b, at(2))  # not taken unless said
    assert model.slug == "other"


def test_refusals_come_in_order() -> None:
    b = base()
    model = draft(b)
    model.status = S.ARCHIVED
    bad_slug: TarsModelChanges = {"slug": "Bad Slug", "status": S.PUBLISHED}
    refused_unchanged(model, bad_slug, b, InvalidBody, slug_taken=True)
    taken: TarsModelChanges = {"slug": "other", "status": S.PUBLISHED}
    refused_unchanged(model, taken, b, InvalidStatusTransition, slug_taken=True)
    cheap: TarsModelChanges = {"slug": "other", "price_per_run": 0}
    refused_unchanged(model, cheap, b, SlugAlreadyExists, slug_taken=True)
    model.status = S.PUBLISHED
    broken: TarsModelChanges = {"price_per_run": 0, "config_overrides": BROKEN}
    refused_unchanged(model, broken, b, InvalidBody)  # the price before the publishing


def test_a_new_price_must_reach_the_base_models_minimum() -> None:
    b = base(min_price_per_run=5)
    model = draft(b, price_per_run=10)
    model.edit({"price_per_run": 5}, b, at(1))
    assert model.price_per_run == 5
    error = refused_unchanged(model, {"price_per_run": 4}, b, InvalidBody)
    assert error.details[0]["field"] == "pricePerRun"
    # Without its base model, any price from 0 up is accepted.
    model.edit({"price_per_run": 0}, None, at(2))
    assert model.price_per_run == 0


def test_an_unchanged_price_is_not_checked_again() -> None:
    b = base(min_price_per_run=5)
    model = draft(b, price_per_run=5)
    raised = dataclasses.replace(b, min_price_per_run=50)
    assert model.edit({"title": "Kept price"}, raised, at(1)) == []
    assert (model.title, model.price_per_run) == ("Kept price", 5)


def test_only_the_fields_given_change() -> None:
    b = base()
    model = draft(b, description="old")
    model.config_overrides = None  # stored before configurations were normalised
    model.edit({"description": None}, b, at(1))
    assert model.description is None and model.config_overrides is None
    assert (model.title, model.slug, model.price_per_run) == ("Art", "art", 5)
    model.edit({"title": "New", "config_overrides": GOOD}, b, at(2))
    assert model.title == "New" and model.config_overrides == GOOD.to_json()
    assert model.updated_at == at(2) and model.created_at == T0
