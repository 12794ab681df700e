"""The two-step check of a consumer's run inputs (``check_run_inputs``)."""

from __future__ import annotations

from typing import Any

from tarsify.domain.config import ConfigOverrides
from tarsify.domain.inputs import WRAPPED_PROMPT, check_run_inputs

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1, "maxLength": 30},
        "steps": {"type": "integer", "minimum": 1, "maximum": 50},
        "seed": {"type": "integer"},
        "width": {"type": "integer", "minimum": 256},
    },
    "required": ["prompt", "steps"],
    "additionalProperties": False,
}
CONFIG = ConfigOverrides.parse(
    {
        "lockedInputs": {"steps": 30},
        "hiddenFields": ["seed"],
        "defaultInputs": {"width": 512},
        "promptPrefix": "SECRET-PREFIX ",
    }
)


def fields(violations: list[dict[str, str]]) -> list[str]:
    return [v["field"] for v in violations]


def test_an_empty_prompt_is_refused_although_the_prefix_would_fill_it() -> None:
    payload, violations = check_run_inputs(SCHEMA, CONFIG, {"prompt": ""})
    assert fields(violations) == ["prompt"]
    assert "SECRET" not in str(violations)
    assert payload["prompt"] == "SECRET-PREFIX "  # what would have been sent


def test_valid_inputs_give_the_merged_payload() -> None:
    payload, violations = check_run_inputs(SCHEMA, CONFIG, {"prompt": "a cat", "width": None})
    assert violations == []
    assert payload == {"prompt": "SECRET-PREFIX a cat", "steps": 30, "width": 512}


def test_locked_and_hidden_fields_sent_by_the_consumer_are_still_overridden() -> None:
    inputs = {"prompt": "a cat", "steps": "not even a number", "seed": "nor this"}
    payload, violations = check_run_inputs(SCHEMA, CONFIG, inputs)
    assert violations == []
    assert payload["steps"] == 30 and "seed" not in payload


def test_a_prompt_too_long_only_once_wrapped_is_refused_without_quoting_it() -> None:
    _, violations = check_run_inputs(SCHEMA, CONFIG, {"prompt": "x" * 20})
    assert violations == [{"field": "prompt", "message": WRAPPED_PROMPT}]
    assert "SECRET" not in str(violations)


def test_each_field_is_reported_once_with_every_problem_listed() -> None:
    _, violations = check_run_inputs(SCHEMA, CONFIG, {"prompt": "y" * 40, "width": 5, "x": 1})
    assert fields(violations) == ["prompt", "width", "x"]
    _, missing = check_run_inputs(SCHEMA, CONFIG, {})
    assert missing == [{"field": "prompt", "message": "is required"}]


def test_a_schema_shown_with_a_dangling_reference_falls_back_to_the_merged_check() -> None:
    schema = {
        "type": "object",
        "properties": {"seed": {"type": "integer"}, "prompt": {"type": "string"}},
        "patternProperties": {"^s": {"$ref": "#/properties/seed"}},
    }
    config = ConfigOverrides.parse({"hiddenFields": ["seed"], "defaultInputs": {"seed": 1}})
    payload, violations = check_run_inputs(schema, config, {"prompt": "p"})
    assert violations == [] and payload == {"prompt": "p", "seed": 1}
