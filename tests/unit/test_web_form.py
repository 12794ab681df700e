"""The run form of a model page, built from a processed input schema."""

from __future__ import annotations

from typing import Any

from entrypoints.web.form import FormField, build_form

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "mode": {"type": "string", "enum": ["fast", "best"], "default": "best"},
        "size": {"type": "integer", "enum": [1, 2]},
        "translate": {"type": "boolean", "default": True, "title": "Translate"},
        "word_timestamps": {"type": "boolean"},
        "width": {
            "type": "integer",
            "minimum": 256,
            "maximum": 2048,
            "multipleOf": 8,
            "default": 768,
        },
        "guidance": {"type": "number", "minimum": 0, "maximum": 20, "default": 7.5},
        "odd": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.333},
        "seed": {"type": "integer", "minimum": 0, "maximum": 4294967295},
        "temperature": {"type": "number", "exclusiveMinimum": 0},
        "prompt": {"type": "string", "maxLength": 2000, "description": "What to draw"},
        "name": {"type": "string", "maxLength": 40, "default": "x"},
        "image_url": {"type": "string", "format": "uri"},
        "voice": {"type": "string", "default": "lucy", "readOnly": True},
        "extra": {"type": "object", "default": {"a": 1}},
    },
    "required": ["prompt", "size"],
}


def fields() -> dict[str, FormField]:
    return {f.name: f for f in build_form(SCHEMA)}


def test_required_fields_come_first_and_locked_ones_last() -> None:
    names = [f.name for f in build_form(SCHEMA)]
    assert names[:2] == ["size", "prompt"]
    assert names[-1] == "voice"


def test_enums_are_selects_with_json_values() -> None:
    mode, size = fields()["mode"], fields()["size"]
    assert mode.kind == "select"
    assert [(o.value, o.selected) for o in mode.options] == [('"fast"', False), ('"best"', True)]
    # Required and without a default: no empty choice to send nothing with.
    assert [o.value for o in size.options] == ["1", "2"]
    assert size.required


def test_optional_enum_without_default_can_be_left_unset() -> None:
    schema = {"type": "object", "properties": {"fmt": {"enum": ["wav", "ogg"]}}}
    (fmt,) = build_form(schema)
    assert (fmt.options[0].value, fmt.options[0].selected) == ("", True)


def test_booleans_are_switches_with_their_default() -> None:
    assert (fields()["translate"].kind, fields()["translate"].checked) == ("switch", True)
    assert fields()["translate"].has_default
    plain = fields()["word_timestamps"]
    assert (plain.kind, plain.checked, plain.has_default) == ("switch", False, False)


def test_bounded_numbers_are_sliders_when_the_range_allows() -> None:
    width = fields()["width"]
    assert (width.kind, width.minimum, width.maximum, width.step, width.value) == (
        "slider",
        "256",
        "2048",
        "8",
        "768",
    )
    assert width.limits == "at least 256, at most 2048, a multiple of 8"
    guidance = fields()["guidance"]
    assert (guidance.kind, guidance.step, guidance.value) == ("slider", "0.1", "7.5")


def test_other_numbers_are_number_fields_with_their_limits() -> None:
    # A default the slider's steps cannot show, too many steps, no upper bound.
    assert fields()["odd"].kind == "number" and fields()["odd"].step == "any"
    seed = fields()["seed"]
    assert (seed.kind, seed.step, seed.value, seed.maximum) == ("number", "1", "", "4294967295")
    temperature = fields()["temperature"]
    assert temperature.kind == "number" and temperature.limits == "more than 0"


def test_strings_by_length_and_format() -> None:
    prompt = fields()["prompt"]
    assert (prompt.kind, prompt.description, prompt.max_length) == (
        "textarea",
        "What to draw",
        2000,
    )
    assert (fields()["name"].kind, fields()["name"].value) == ("text", "x")
    assert fields()["image_url"].kind == "url"


def test_read_only_and_json_fields() -> None:
    voice = fields()["voice"]
    assert (voice.read_only, voice.value) == (True, "lucy")
    extra = fields()["extra"]
    assert extra.kind == "json" and extra.value == '{\n  "a": 1\n}'


def test_labels_fall_back_to_the_property_name() -> None:
    assert fields()["translate"].label == "Translate"
    assert fields()["mode"].label == "mode"


def test_malformed_schemas_give_no_fields() -> None:
    assert build_form(None) == []
    assert build_form({"type": "object", "properties": []}) == []
    assert [f.kind for f in build_form({"properties": {"x": "not a schema"}})] == ["json"]


def test_numbers_beyond_float_range_are_left_out_not_a_crash() -> None:
    """Stored before such numbers were refused at the boundary: the page still renders."""
    huge = 10**400
    schema = {
        "type": "object",
        "properties": {
            "steps": {"type": "integer", "minimum": 0, "maximum": huge, "default": huge},
            "scale": {"type": "number", "minimum": -huge, "multipleOf": huge, "default": 1},
            "ok": {"type": "integer", "minimum": 1, "maximum": 9, "default": 2},
        },
    }
    fields = {f.name: f for f in build_form(schema)}
    steps = fields["steps"]
    assert (steps.kind, steps.value, steps.maximum, steps.limits) == (
        "number",
        "",
        None,
        "at least 0",
    )
    assert fields["scale"].limits is None and fields["scale"].value == "1"
    assert fields["ok"].kind == "slider" and fields["ok"].limits == "at least 1, at most 9"
