"""Checking a consumer's run inputs: against the schema they are shown, then as merged."""

from __future__ import annotations

import json
from typing import Any

from tarsify.domain.config import PROMPT_FIELD, ConfigOverrides
from tarsify.domain.errors import InputsTooLarge
from tarsify.domain.merge import merge_inputs, processed_input_schema
from tarsify.domain.models import JsonObject
from tarsify.domain.schema import UNUSABLE_SCHEMA, PayloadCheck, Violation
from tarsify.domain.schema_guard import Budget

WRAPPED_PROMPT = "is not valid once the model's prompt prefix and suffix are added"
# The default of ``MAX_INPUT_BYTES``: larger data belongs in file inputs.
DEFAULT_MAX_INPUT_BYTES = 64 * 1024


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (how inputs are measured)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return len(text.encode("utf-8", "surrogatepass"))


def check_size(payload: JsonObject, max_bytes: int | None) -> None:
    """``InputsTooLarge`` when the merged ``payload`` is over ``max_bytes`` of JSON."""
    if max_bytes is None:
        return
    size = json_size(payload)
    if size > max_bytes:
        raise InputsTooLarge(
            f"Inputs are {size} bytes of JSON once merged; at most {max_bytes} are accepted "
            "(send large data as file inputs)",
            details=[{"field": "inputs", "message": f"larger than {max_bytes} bytes"}],
        )


def stored_inputs(inputs: JsonObject, config: ConfigOverrides) -> JsonObject:
    """What is kept and shown as an execution's ``input``: the consumer's own values.

    Hidden and locked fields never take the consumer's value (the merge drops or
    overrides it), and null means "not provided": none of these is stored, so the stored
    input is never larger than the merged payload ``MAX_INPUT_BYTES`` bounds.
    """
    return {
        key: value
        for key, value in inputs.items()
        if value is not None and key not in config.hidden_fields and key not in config.locked_inputs
    }


class InputCheck:
    """``check_run_inputs`` for one model: its two schemas' validators are built once."""

    __slots__ = ("_base", "_config", "_shown")

    def __init__(self, base_schema: JsonObject, config: ConfigOverrides) -> None:
        self._config = config
        self._shown = PayloadCheck(processed_input_schema(base_schema, config))
        self._base = PayloadCheck(base_schema)

    @property
    def config(self) -> ConfigOverrides:
        """The model's configuration the inputs are merged with."""
        return self._config

    def __call__(
        self, inputs: JsonObject, max_bytes: int | None = None, budget: Budget | None = None
    ) -> tuple[JsonObject, list[Violation]]:
        """The payload for ``inputs`` and every violation (see ``check_run_inputs``).

        A merged payload over ``max_bytes`` of JSON raises ``InputsTooLarge`` before any
        validation is spent on it. Both checks are paid for from one ``budget``
        (``ValidationBudgetSpent`` when it is spent).
        """
        config = self._config
        payload = merge_inputs(inputs, config)
        check_size(payload, max_bytes)
        first = self._shown(stored_inputs(inputs, config), budget)
        if first == [UNUSABLE_SCHEMA]:
            # The shown schema may dangle where the base one does not; step 2 decides then.
            first = []
        reported = {v["field"] for v in first}
        wrapped = bool(config.prompt_prefix or config.prompt_suffix)
        second = [
            {"field": v["field"], "message": WRAPPED_PROMPT}
            if wrapped and v["field"] == PROMPT_FIELD
            else v
            for v in self._base(payload, budget)
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
