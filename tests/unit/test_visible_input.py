"""What consumers see of an execution's stored (merged) input."""

from __future__ import annotations

from entrypoints.http.visible_input import consumer_view_of
from tarsify.domain.config import ConfigOverrides
from tarsify.domain.merge import merge_inputs

CONFIG = ConfigOverrides.parse(
    {
        "defaultInputs": {"width": 512},
        "lockedInputs": {"steps": 30, "seed": 7},
        "hiddenFields": ["seed", "negative_prompt"],
        "promptPrefix": "[[",
        "promptSuffix": "]]",
    }
)


def test_hidden_fields_and_the_prompt_wrapping_are_removed() -> None:
    merged = merge_inputs({"prompt": "a cat", "negative_prompt": "x"}, CONFIG)
    assert merged["prompt"] == "[[a cat]]" and merged["seed"] == 7
    assert consumer_view_of(merged, CONFIG) == {"prompt": "a cat", "width": 512, "steps": 30}


def test_a_prompt_wrapped_differently_is_withheld() -> None:
    assert consumer_view_of({"prompt": "<<a cat>>", "width": 1}, CONFIG) == {"width": 1}
    assert consumer_view_of({"prompt": "[]"}, CONFIG) == {}


def test_no_config_shows_everything_and_none_stays_none() -> None:
    plain = ConfigOverrides()
    assert consumer_view_of({"prompt": "x", "seed": 1}, plain) == {"prompt": "x", "seed": 1}
    assert consumer_view_of(None, plain) is None
