"""Tars model configuration (``configOverrides``): parsing and checking against a base model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tarsify.domain.errors import InvalidBody, ValidationBudgetSpent
from tarsify.domain.jsonsafe import JsonObject
from tarsify.domain.schema import Violation, validate_payload
from tarsify.domain.schema_guard import Budget
from tarsify.domain.schema_refs import ref_targets

CONFIG_KEYS = ("defaultInputs", "lockedInputs", "hiddenFields", "promptPrefix", "promptSuffix")
PROMPT_FIELD = "prompt"
# How long checking a developer's default and locked values may take, in all.
VALUE_CHECK_BUDGET_S = 2.0


@dataclass(slots=True, frozen=True)
class ConfigOverrides:
    """The developer's configuration of a Tars model; every part optional."""

    default_inputs: JsonObject = field(default_factory=dict)
    locked_inputs: JsonObject = field(default_factory=dict)
    hidden_fields: tuple[str, ...] = ()
    prompt_prefix: str = ""
    prompt_suffix: str = ""

    @classmethod
    def parse(cls, raw: Any) -> ConfigOverrides:
        """Read the JSON form; None or {} is an empty config. Raises ``InvalidBody``."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise InvalidBody(
                "configOverrides must be an object",
                details=[{"field": "configOverrides", "message": "must be an object"}],
            )
        problems = _shape_problems(raw)
        if problems:
            raise InvalidBody("Invalid configOverrides", details=problems)
        return cls(
            default_inputs=dict(raw.get("defaultInputs") or {}),
            locked_inputs=dict(raw.get("lockedInputs") or {}),
            hidden_fields=tuple(dict.fromkeys(raw.get("hiddenFields") or [])),
            prompt_prefix=raw.get("promptPrefix") or "",
            prompt_suffix=raw.get("promptSuffix") or "",
        )

    def to_json(self) -> JsonObject:
        """The stored JSON form (camelCase keys, every key present)."""
        return {
            "defaultInputs": self.default_inputs,
            "lockedInputs": self.locked_inputs,
            "hiddenFields": list(self.hidden_fields),
            "promptPrefix": self.prompt_prefix,
            "promptSuffix": self.prompt_suffix,
        }


def _shape_problems(raw: JsonObject) -> list[Violation]:
    problems: list[Violation] = []
    for key in raw:
        if key not in CONFIG_KEYS:
            problems.append({"field": f"configOverrides.{key}", "message": "unknown key"})
    for key in ("defaultInputs", "lockedInputs"):
        value = raw.get(key)
        if value is not None and not isinstance(value, dict):
            problems.append({"field": f"configOverrides.{key}", "message": "must be an object"})
    hidden = raw.get("hiddenFields")
    if hidden is not None and (
        not isinstance(hidden, list) or not all(isinstance(h, str) for h in hidden)
    ):
        problems.append(
            {"field": "configOverrides.hiddenFields", "message": "must be a list of strings"}
        )
    for key in ("promptPrefix", "promptSuffix"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            problems.append({"field": f"configOverrides.{key}", "message": "must be a string"})
    return problems


def config_problems(config: ConfigOverrides, input_schema: JsonObject) -> list[Violation]:
    """Everything that stops ``config`` from producing a valid payload for ``input_schema``.

    Reports, all together: fields unknown to the schema, required fields hidden without a
    developer value, hidden fields another part of the schema refers to (``$ref``), default
    or locked values that violate their property's schema, and a prompt prefix/suffix on a
    schema without a string ``prompt``.
    """
    return [
        *_value_problems(config, input_schema),
        *_hidden_problems(config, input_schema),
        *_prompt_problems(config, input_schema),
    ]


def _unknown(section: str, name: str) -> Violation:
    return {
        "field": f"configOverrides.{section}.{name}",
        "message": "not a property of the base model's input schema",
    }


def _value_problems(config: ConfigOverrides, input_schema: JsonObject) -> list[Violation]:
    """Default and locked values: unknown fields, values their property refuses (checked
    within ``VALUE_CHECK_BUDGET_S`` in all: a value too costly to check is refused)."""
    try:
        return _checked_values(config, input_schema, Budget(VALUE_CHECK_BUDGET_S))
    except ValidationBudgetSpent:
        return [{"field": "configOverrides", "message": "its values take too long to check"}]


def _checked_values(
    config: ConfigOverrides, input_schema: JsonObject, budget: Budget
) -> list[Violation]:
    props: JsonObject = input_schema.get("properties") or {}
    problems: list[Violation] = []
    for section, values in (
        ("defaultInputs", config.default_inputs),
        ("lockedInputs", config.locked_inputs),
    ):
        for name, value in values.items():
            if name not in props:
                problems.append(_unknown(section, name))
                continue
            for v in validate_payload(props[name], value, root=input_schema, budget=budget):
                where = f".{v['field']}" if v["field"] != "$" else ""
                problems.append(
                    {"field": f"configOverrides.{section}.{name}{where}", "message": v["message"]}
                )
    return problems


def _hidden_problems(config: ConfigOverrides, input_schema: JsonObject) -> list[Violation]:
    """Hidden fields: unknown, referred to by a ``$ref``, or required without a value."""
    props: JsonObject = input_schema.get("properties") or {}
    required = set(input_schema.get("required") or [])
    referenced = {p[1] for p in ref_targets(input_schema) if len(p) > 1 and p[0] == "properties"}
    problems: list[Violation] = []
    for name in config.hidden_fields:
        field = f"configOverrides.hiddenFields.{name}"
        if name not in props:
            problems.append(_unknown("hiddenFields", name))
        elif name in referenced:
            # The schema shown to consumers drops hidden fields: a $ref would dangle there.
            message = "another part of the input schema refers to it ($ref)"
            problems.append({"field": field, "message": message})
        elif (
            name in required
            and name not in config.default_inputs
            and (name not in config.locked_inputs)
        ):
            message = "required field is hidden but has no default or locked value"
            problems.append({"field": field, "message": message})
    return problems


def _prompt_problems(config: ConfigOverrides, input_schema: JsonObject) -> list[Violation]:
    """A prompt prefix or suffix needs a string ``prompt`` property to wrap."""
    if not (config.prompt_prefix or config.prompt_suffix):
        return []
    prompt = (input_schema.get("properties") or {}).get(PROMPT_FIELD)
    if isinstance(prompt, dict) and prompt.get("type") in ("string", None):
        return []
    return [
        {
            "field": "configOverrides.promptPrefix",
            "message": "the base model has no string 'prompt' input to wrap",
        }
    ]
