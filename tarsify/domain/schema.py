"""JSON Schema checks: is a schema usable as an input schema, does a payload satisfy it.

jsonschema is a pure computation library (no I/O), used here the way the core uses the
standard library's ``json``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from tarsify.domain.errors import ValidationBudgetSpent
from tarsify.domain.jsonsafe import JsonObject
from tarsify.domain.schema_guard import (
    Budget,
    InputValidator,
    additional_properties,
    expansion_problems,
    pattern_problems,
    with_budget,
)
from tarsify.domain.schema_refs import ref_problems, resolve

Violation = dict[str, str]
log = logging.getLogger("tarsify.schema")
UNUSABLE_SCHEMA: Violation = {
    "field": "$",
    "message": "the model's input schema cannot be evaluated; its owner must fix it",
}


def _path(parts: Iterable[Any]) -> str:
    return ".".join(str(p) for p in parts)


def input_schema_problems(schema: Any) -> list[Violation]:
    """Why ``schema`` cannot be a base model's input schema (empty list when it can).

    It must be a valid JSON Schema (draft 2020-12) of ``"type": "object"`` whose
    ``properties`` is an object, and every ``$ref`` must be local, resolvable and must not
    loop without descending into the input (``schema_refs``). Validating against it must
    have a bounded cost (``schema_guard``): its references may not unfold it into more
    than ``MAX_EXPANDED_SUBSCHEMAS`` subschemas, and every pattern must compile with the
    process's pattern engine.
    """
    if not isinstance(schema, dict):
        return [{"field": "inputSchema", "message": "must be a JSON object"}]
    problems: list[Violation] = []
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = _path(exc.absolute_path)
        problems.append(
            {"field": f"inputSchema.{where}" if where else "inputSchema", "message": exc.message}
        )
    except Exception:  # e.g. RecursionError: whatever the cause, the schema is unusable
        log.warning("input schema could not be checked", exc_info=True)
        return [{"field": "inputSchema", "message": "cannot be checked as a JSON Schema"}]
    refs = ref_problems(schema)
    problems.extend(refs)
    problems.extend(pattern_problems(schema))
    if not refs:
        problems.extend(expansion_problems(schema, resolve))
    if schema.get("type") != "object":
        problems.append({"field": "inputSchema.type", "message": "must be 'object'"})
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        problems.append({"field": "inputSchema.properties", "message": "must be an object"})
    required = schema.get("required", [])
    if isinstance(props, dict) and isinstance(required, list):
        for name in required:
            if (
                isinstance(name, str)
                and name not in props
                and schema.get("additionalProperties", True) is False
            ):
                problems.append(
                    {
                        "field": "inputSchema.required",
                        "message": f"'{name}' is required but not a property",
                    }
                )
    return problems


def _violation(error: ValidationError) -> list[Violation]:
    base = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        wanted = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [name for name in wanted if isinstance(name, str) and name not in error.instance]
        return [{"field": _path([*base, name]), "message": "is required"} for name in missing] or [
            {"field": _path(base), "message": error.message}
        ]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        extra = additional_properties(error.instance, schema)
        if extra:
            return [{"field": _path([*base, k]), "message": "is not allowed"} for k in extra]
    return [{"field": _path(base) or "$", "message": error.message}]


class PayloadCheck:
    """``validate_payload`` for one schema, its validator built once (a model's schema is
    checked on every run; building the validator costs more than most checks)."""

    __slots__ = ("_validator",)

    def __init__(self, schema: JsonObject, *, root: JsonObject | None = None) -> None:
        try:
            whole = InputValidator(root if root is not None else schema)
            validator = whole.evolve(schema=schema) if root is not None else whole
        except Exception:  # checked when the schema was stored; an old row may not be
            log.warning("input schema could not be evaluated", exc_info=True)
            validator = None
        self._validator = validator

    def __call__(self, payload: Any, budget: Budget | None = None) -> list[Violation]:
        """Every violation of the schema by ``payload`` (see ``validate_payload``);
        ``ValidationBudgetSpent`` when ``budget`` is spent first."""
        if self._validator is None:
            return [dict(UNUSABLE_SCHEMA)]
        found: dict[tuple[str, str], Violation] = {}
        try:
            for error in with_budget(self._validator, budget).iter_errors(payload):
                for v in _violation(error):
                    found[(v["field"], v["message"])] = v
        except ValidationBudgetSpent:
            raise
        except Exception:  # RecursionError, unresolvable $ref, ...: not the consumer's fault
            log.warning("input schema could not be evaluated", exc_info=True)
            return [dict(UNUSABLE_SCHEMA)]
        return [found[k] for k in sorted(found)]


def validate_payload(
    schema: JsonObject,
    payload: Any,
    *,
    root: JsonObject | None = None,
    budget: Budget | None = None,
) -> list[Violation]:
    """Every violation of ``schema`` by ``payload``, each with its dotted field path.

    ``root`` is the whole schema when ``schema`` is a part of it (references resolve
    against the root). The list is sorted and de-duplicated so the answer is stable.
    A schema that cannot be evaluated (one stored before its references were checked)
    gives one violation, ``UNUSABLE_SCHEMA``, never an exception. With a ``budget``, the
    validation stops with ``ValidationBudgetSpent`` once it is spent.
    """
    return PayloadCheck(schema, root=root)(payload, budget)
