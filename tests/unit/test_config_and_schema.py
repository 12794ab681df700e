"""Config validation against a base model, payload validation and input-schema checks."""

from __future__ import annotations

from tarsify.domain.config import ConfigOverrides, config_problems
from tarsify.domain.schema import input_schema_problems, validate_payload

SCHEMA = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "width": {"type": "integer", "minimum": 256, "maximum": 2048},
        "num_images": {"type": "integer", "enum": [1, 2]},
        "seed": {"type": "integer"},
        "options": {
            "type": "object",
            "properties": {"strength": {"type": "number", "maximum": 1}},
        },
    },
    "required": ["prompt", "seed"],
    "additionalProperties": False,
}


def fields(problems: list[dict[str, str]]) -> list[str]:
    return sorted(p["field"] for p in problems)


def test_valid_config_has_no_problems() -> None:
    config = ConfigOverrides.parse(
        {
            "defaultInputs": {"width": 1024},
            "lockedInputs": {"num_images": 1},
            "hiddenFields": ["seed"],
            "promptPrefix": "x",
        }
    )
    config = ConfigOverrides.parse(
        {**config.to_json(), "defaultInputs": {"width": 1024, "seed": 3}}
    )
    assert config_problems(config, SCHEMA) == []


def test_all_config_problems_are_reported_together() -> None:
    config = ConfigOverrides.parse(
        {
            "defaultInputs": {"width": 100, "colour": "red"},
            "lockedInputs": {"num_images": 3, "options": {"strength": 5}},
            "hiddenFields": ["seed", "ghost"],
        }
    )
    assert fields(config_problems(config, SCHEMA)) == [
        "configOverrides.defaultInputs.colour",
        "configOverrides.defaultInputs.width",
        "configOverrides.hiddenFields.ghost",
        "configOverrides.hiddenFields.seed",
        "configOverrides.lockedInputs.num_images",
        "configOverrides.lockedInputs.options.strength",
    ]


def test_hidden_required_field_with_locked_value_is_fine() -> None:
    config = ConfigOverrides.parse({"hiddenFields": ["seed"], "lockedInputs": {"seed": 1}})
    assert config_problems(config, SCHEMA) == []


def test_prompt_prefix_needs_a_string_prompt() -> None:
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    problems = config_problems(ConfigOverrides.parse({"promptSuffix": "!"}), schema)
    assert fields(problems) == ["configOverrides.promptPrefix"]


def test_payload_violations_carry_field_paths() -> None:
    payload = {"width": 9999, "num_images": 5, "options": {"strength": 2}, "extra": 1}
    assert fields(validate_payload(SCHEMA, payload)) == [
        "extra",
        "num_images",
        "options.strength",
        "prompt",
        "seed",
        "width",
    ]


def test_valid_payload_has_no_violations() -> None:
    assert validate_payload(SCHEMA, {"prompt": "a", "seed": 1, "width": 512}) == []


def test_violation_messages_are_readable() -> None:
    [problem] = validate_payload(SCHEMA, {"prompt": "a", "seed": "x"})
    assert problem["field"] == "seed"
    assert "integer" in problem["message"]


def test_input_schema_must_be_an_object_schema() -> None:
    assert input_schema_problems(SCHEMA) == []
    assert input_schema_problems({"type": "string"})[0]["field"] == "inputSchema.type"
    assert input_schema_problems([1])[0]["field"] == "inputSchema"
    bad = input_schema_problems({"type": "object", "properties": {"a": {"type": "nope"}}})
    assert bad and bad[0]["field"].startswith("inputSchema")
    assert input_schema_problems({"type": "object", "properties": []})
