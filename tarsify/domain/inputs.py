"""Checking a consumer's run inputs: against the schema they are shown, then as merged."""

from __future__ import annotations

from tarsify.domain.config import PROMPT_FIELD, ConfigOverrides
from tarsify.domain.merge import merge_inputs, processed_input_schema
from tarsify.domain.models import JsonObject
from tarsify.domain.schema import UNUSABLE_SCHEMA, PayloadCheck, Violation

WRAPPED_PROMPT = "is not valid once the model's prompt prefix and suffix are added"


class InputCheck:
    """``check_run_inputs`` for one model: its two schemas' validators are built once."""

    __slots__ = ("_base", "_config", "_shown")

    def __init__(self, base_schema: JsonObject, config: ConfigOverrides) -> None:
        self._config = config
        self._shown = PayloadCheck(processed_input_schema(base_schema, config))
        self._base = PayloadCheck(base_schema)

    def __call__(self, inputs: JsonObject) -> tuple[JsonObject, list[Violation]]:
        """The payload for ``inputs`` and every violation (see ``check_run_inputs``)."""
        config = self._config
        own = {
            key: value
            for key, value in inputs.items()
            if value is not None
            and key not in config.hidden_fields
            and key not in config.locked_inputs
        }
        first = self._shown(own)
        if first == [UNUSABLE_SCHEMA]:
            # The shown schema may dangle where the base one does not; step 2 decides then.
            first = []
        payload = merge_inputs(inputs, config)
        reported = {v["field"] for v in first}
        wrapped = bool(config.prompt_prefix or config.prompt_suffix)
        second = [
            {"field": v["field"], "message": WRAPPED_PROMPT}
            if wrapped and v["field"] == PROMPT_FIELD
            else v
            for v in self._base(payload)
            if v["field"] not in reported
        ]
        found = {(v["field"], v["message"]): v for v in first + second}
        return payload, [found[k] for k in sorted(found)]


def check_run_inputs(
    base_schema: JsonObject, config: ConfigOverrides, inputs: JsonObject
) -> tuple[JsonObject, list[Violation]]:
    """The payload for ``inputs`` and every violation (empty when it may run).

    1. The consumer's own inputs against the schema the marketplace shows them
       (``processed_input_schema``), so the developer's prompt prefix cannot make an empty
       prompt valid. Nulls, hidden and locked fields are left out of this step: the merge
       drops or overrides them, as it always has.
    2. The merged payload against the base model's schema: what the worker receives.
       Fields step 1 already reported are not reported twice; messages about a wrapped
       prompt do not quote it (the prefix and suffix are the developer's secret).
    """
    return InputCheck(base_schema, config)(inputs)
