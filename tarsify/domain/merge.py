"""Merging consumer inputs with a Tars model's configuration, and the schema consumers see.

The rules are those of api-contract.md ("Merge rules"). ``null`` means "not provided"
everywhere: a null input is dropped unless a developer value replaces it, so the worker's
own default applies.
"""

from __future__ import annotations

import copy
from typing import Any

from tarsify.domain.config import PROMPT_FIELD, ConfigOverrides
from tarsify.domain.models import JsonObject


def merge_inputs(user_inputs: JsonObject | None, config_overrides: Any) -> JsonObject:
    """The payload sent to the GPU worker for ``user_inputs`` under ``config_overrides``.

    1. start with the consumer's inputs; 2. defaults fill absent or null fields;
    3. locked values override; 4. hidden fields never take the consumer's value (a
    developer value for them stays); 5. a string ``prompt`` is wrapped with the prefix and
    suffix. Inputs are deep-copied: the result shares nothing with its arguments.
    """
    config = (
        config_overrides
        if isinstance(config_overrides, ConfigOverrides)
        else ConfigOverrides.parse(config_overrides)
    )
    hidden = set(config.hidden_fields)
    merged: JsonObject = {
        key: copy.deepcopy(value)
        for key, value in (user_inputs or {}).items()
        if key not in hidden and value is not None
    }
    for key, value in config.default_inputs.items():
        if merged.get(key) is None and value is not None:
            merged[key] = copy.deepcopy(value)
    for key, value in config.locked_inputs.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = copy.deepcopy(value)
    prompt = merged.get(PROMPT_FIELD)
    if isinstance(prompt, str) and (config.prompt_prefix or config.prompt_suffix):
        merged[PROMPT_FIELD] = f"{config.prompt_prefix}{prompt}{config.prompt_suffix}"
    return merged


def processed_input_schema(base_schema: JsonObject, config_overrides: Any) -> JsonObject:
    """The input schema shown to consumers.

    Hidden fields are removed (also from ``required``); developer defaults become
    ``default``; locked fields are ``readOnly`` with ``default`` = the locked value. Fields
    the developer fills (default or locked) are no longer ``required`` of the consumer.
    The prompt prefix and suffix are never shown.
    """
    config = (
        config_overrides
        if isinstance(config_overrides, ConfigOverrides)
        else ConfigOverrides.parse(config_overrides)
    )
    schema = copy.deepcopy(base_schema)
    # Schemas are checked when stored; one stored before a check existed must still render.
    props: JsonObject = schema.get("properties") or {}
    if not isinstance(props, dict):
        props = {}
    for name in config.hidden_fields:
        props.pop(name, None)
    for name, value in config.default_inputs.items():
        if name in props and isinstance(props[name], dict) and value is not None:
            props[name]["default"] = copy.deepcopy(value)
    for name, value in config.locked_inputs.items():
        if name in props and isinstance(props[name], dict) and value is not None:
            props[name]["default"] = copy.deepcopy(value)
            props[name]["readOnly"] = True
    filled = {k for k, v in config.default_inputs.items() if v is not None} | {
        k for k, v in config.locked_inputs.items() if v is not None
    }
    if "properties" in schema:
        schema["properties"] = props
    if isinstance(schema.get("required"), list):
        schema["required"] = [
            name
            for name in schema["required"]
            if name not in config.hidden_fields and name not in filled
        ]
        if not schema["required"]:
            del schema["required"]
    return schema
