"""Merge rules of api-contract.md, one test per rule and edge case."""

from __future__ import annotations

import pytest

from tarsify.domain.config import ConfigOverrides
from tarsify.domain.errors import InvalidBody
from tarsify.domain.merge import merge_inputs, processed_input_schema


def test_user_inputs_pass_through_without_config() -> None:
    assert merge_inputs({"prompt": "cat", "width": 512}, None) == {"prompt": "cat", "width": 512}


@pytest.mark.parametrize("config", [None, {}, {"defaultInputs": None, "hiddenFields": None}])
def test_null_and_empty_config_are_the_same(config: object) -> None:
    assert merge_inputs({"a": 1}, config) == {"a": 1}


def test_defaults_fill_absent_and_null_fields_only() -> None:
    config = {"defaultInputs": {"width": 1024, "height": 768, "steps": 25}}
    merged = merge_inputs({"width": 512, "height": None}, config)
    assert merged == {"width": 512, "height": 768, "steps": 25}


def test_locked_inputs_override_what_the_consumer_sent() -> None:
    config = {"lockedInputs": {"num_images": 1}, "defaultInputs": {"num_images": 2}}
    assert merge_inputs({"num_images": 4}, config) == {"num_images": 1}


def test_hidden_field_never_takes_the_consumer_value() -> None:
    assert merge_inputs({"seed": 7, "prompt": "x"}, {"hiddenFields": ["seed"]}) == {"prompt": "x"}


def test_hidden_field_keeps_the_developer_default() -> None:
    config = {"hiddenFields": ["scheduler"], "defaultInputs": {"scheduler": "DDIM"}}
    assert merge_inputs({"scheduler": "K_EULER"}, config) == {"scheduler": "DDIM"}


def test_hidden_and_locked_on_the_same_field_keeps_the_locked_value() -> None:
    config = {"hiddenFields": ["voice"], "lockedInputs": {"voice": "lucy"}}
    assert merge_inputs({"voice": "bob"}, config) == {"voice": "lucy"}


def test_hidden_field_without_developer_value_is_absent() -> None:
    assert "seed" not in merge_inputs({"seed": 1}, {"hiddenFields": ["seed"]})


def test_prompt_is_wrapped_with_prefix_and_suffix() -> None:
    config = {"promptPrefix": "A photo of ", "promptSuffix": ", 4k"}
    assert merge_inputs({"prompt": "a cat"}, config)["prompt"] == "A photo of a cat, 4k"


def test_locked_prompt_is_wrapped_too() -> None:
    config = {"lockedInputs": {"prompt": "dog"}, "promptPrefix": "<", "promptSuffix": ">"}
    assert merge_inputs({"prompt": "cat"}, config)["prompt"] == "<dog>"


@pytest.mark.parametrize("prompt", [42, None, ["a"], {"text": "a"}])
def test_non_string_prompt_is_not_wrapped(prompt: object) -> None:
    merged = merge_inputs({"prompt": prompt}, {"promptPrefix": "P", "promptSuffix": "S"})
    assert merged.get("prompt") == prompt


def test_absent_prompt_stays_absent_with_prefix() -> None:
    assert merge_inputs({}, {"promptPrefix": "P"}) == {}


def test_empty_prefix_and_suffix_leave_prompt_alone() -> None:
    assert merge_inputs({"prompt": "x"}, {"promptPrefix": "", "promptSuffix": None}) == {
        "prompt": "x"
    }


def test_null_input_without_default_is_dropped() -> None:
    assert merge_inputs({"seed": None, "prompt": "x"}, None) == {"prompt": "x"}


def test_locked_null_removes_the_field() -> None:
    assert merge_inputs({"seed": 3}, {"lockedInputs": {"seed": None}}) == {}


def test_nested_values_are_not_aliased_between_calls() -> None:
    config = {"defaultInputs": {"options": {"tags": ["a"]}}, "lockedInputs": {"lora": {"w": 1}}}
    user = {"extra": {"list": [1, 2]}}
    first = merge_inputs(user, config)
    first["options"]["tags"].append("mutated")
    first["lora"]["w"] = 99
    first["extra"]["list"].append(3)
    second = merge_inputs(user, config)
    assert second["options"] == {"tags": ["a"]}
    assert second["lora"] == {"w": 1}
    assert user == {"extra": {"list": [1, 2]}}
    assert config["defaultInputs"] == {"options": {"tags": ["a"]}}


def test_all_rules_together_in_order() -> None:
    config = {
        "defaultInputs": {"width": 1024, "steps": 30},
        "lockedInputs": {"num_images": 1},
        "hiddenFields": ["steps", "refiner"],
        "promptPrefix": "[",
        "promptSuffix": "]",
    }
    user = {"prompt": "p", "width": None, "steps": 5, "refiner": True, "num_images": 2, "x": 0}
    assert merge_inputs(user, config) == {
        "prompt": "[p]",
        "width": 1024,
        "steps": 30,
        "num_images": 1,
        "x": 0,
    }


@pytest.mark.parametrize(
    "raw",
    [
        "not an object",
        {"defaultInputs": []},
        {"hiddenFields": "seed"},
        {"hiddenFields": [1]},
        {"promptPrefix": 3},
        {"unknownKey": 1},
    ],
)
def test_malformed_config_is_refused(raw: object) -> None:
    with pytest.raises(InvalidBody):
        ConfigOverrides.parse(raw)


BASE_SCHEMA = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string"},
        "width": {"type": "integer", "default": 512},
        "seed": {"type": "integer"},
        "voice": {"type": "string"},
    },
    "required": ["prompt", "seed", "voice"],
}


def test_processed_schema_hides_defaults_and_locks() -> None:
    config = {
        "hiddenFields": ["seed"],
        "defaultInputs": {"width": 1024, "seed": 1},
        "lockedInputs": {"voice": "lucy"},
        "promptPrefix": "SECRET",
    }
    schema = processed_input_schema(BASE_SCHEMA, config)
    assert set(schema["properties"]) == {"prompt", "width", "voice"}
    assert schema["properties"]["width"]["default"] == 1024
    assert schema["properties"]["voice"] == {"type": "string", "default": "lucy", "readOnly": True}
    assert schema["required"] == ["prompt"]
    assert "SECRET" not in repr(schema)
    assert BASE_SCHEMA["properties"]["width"]["default"] == 512  # base schema untouched
    assert "seed" in BASE_SCHEMA["properties"]


def test_processed_schema_without_config_is_the_base_schema() -> None:
    assert processed_input_schema(BASE_SCHEMA, None) == BASE_SCHEMA
