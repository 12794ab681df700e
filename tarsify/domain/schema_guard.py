"""Bounding what validating against an input schema can cost.

Three bounds, so that no schema an admin saves and no input a consumer sends can hold a
process for long:

- ``$ref`` expansion: a reference is followed every time it is met, so references to
  references (an acyclic graph, each level naming the one below twice) make validation
  cost double per level. ``expansion`` measures the schema as validation unfolds it;
  a schema larger than ``MAX_EXPANDED_SUBSCHEMAS`` that way is refused when saved.
- regular expressions (``pattern``, ``patternProperties``): Python's ``re`` backtracks
  (``^(a+)+$`` on a few dozen characters takes minutes and cannot be interrupted).
  Validators match them with the process's ``PatternEngine``; the composition root
  installs a linear-time one (RE2, ``adapters/patterns``), and a pattern it cannot
  compile is refused when the schema is saved.
- time: a validation given a ``Budget`` (``with_budget``) pays for every keyword it
  applies; once the budget is spent it stops with ``ValidationBudgetSpent`` (422
  ERR_2005). The budget travels with the validator, never through hidden state.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

from tarsify.domain.errors import ValidationBudgetSpent

Violation = dict[str, str]
MAX_EXPANDED_SUBSCHEMAS = 10_000
# Values that are data, not subschemas: a "pattern" key in them is not a regex.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})


class PatternEngine(Protocol):
    """How validators match regular expressions."""

    def problem(self, pattern: str) -> str | None:
        """Why ``pattern`` cannot be used (None when it can)."""
        ...

    def search(self, pattern: str, text: str) -> bool:
        """True when ``pattern`` matches somewhere in ``text``."""
        ...


class PythonPatterns:
    """The standard library's ``re`` (backtracking: for tests and tools, not serving)."""

    def problem(self, pattern: str) -> str | None:
        """Why ``re`` cannot compile ``pattern``."""
        try:
            re.compile(pattern)
        except (re.error, RecursionError, OverflowError) as exc:
            return f"is not a valid regular expression ({exc})"
        return None

    def search(self, pattern: str, text: str) -> bool:
        """``re.search``."""
        return re.search(pattern, text) is not None


_engine: list[PatternEngine] = [PythonPatterns()]


def use_patterns(engine: PatternEngine) -> None:
    """Make ``engine`` match every pattern of every validator in this process (called
    once by the composition root)."""
    _engine[0] = engine


def pattern_engine() -> PatternEngine:
    """The engine validators use."""
    return _engine[0]


# --- the time budget ----------------------------------------------------------------

# A budgeted check hands the interpreter lock back every this many keywords. Checks run
# on threads beside the event loop; left to the interpreter's switch interval (5 ms per
# hand-over, several per request), two busy checks held /health up 25 ms at the median
# and 150 ms at worst; yielding this often keeps it near 1-4 ms (bench.health_latency).
YIELD_EVERY_KEYWORDS = 16


class Budget:
    """How long one validation may take, from when the budget is made: every keyword the
    validation applies pays for itself (``spend``), and once ``seconds`` have passed the
    validation stops with ``ValidationBudgetSpent``. One budget serves one validation
    (one thread) at a time; several checks of one request may share it."""

    __slots__ = ("_deadline", "_keywords")

    def __init__(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds
        self._keywords = 0

    @property
    def keywords(self) -> int:
        """How many keywords were applied within this budget."""
        return self._keywords

    def spend(self) -> None:
        """One more keyword: ``ValidationBudgetSpent`` past the deadline; every
        ``YIELD_EVERY_KEYWORDS`` keywords the interpreter lock is handed back."""
        if time.monotonic() > self._deadline:
            raise ValidationBudgetSpent()
        if self._keywords % YIELD_EVERY_KEYWORDS == 0:
            time.sleep(0)  # lets a waiting thread (the event loop's) take the lock
        self._keywords += 1


class _BudgetCarrier(FormatChecker):
    """A validator's ``Budget``, in the one place jsonschema hands on to every validator
    it derives for subschemas and references (``evolve`` keeps ``format_checker``). It
    checks no format, like the validator without a budget (no format checker)."""

    def __init__(self, budget: Budget) -> None:
        super().__init__(formats=())
        self.budget = budget


def with_budget(validator: Any, budget: Budget | None) -> Any:
    """``validator`` (an ``InputValidator``), its keywords paid for from ``budget``."""
    if budget is None:
        return validator
    return validator.evolve(format_checker=_BudgetCarrier(budget))


def _budgeted(keyword: Callable[..., Any]) -> Callable[..., Any]:
    def checked(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        carrier = validator.format_checker
        if isinstance(carrier, _BudgetCarrier):
            carrier.budget.spend()
        return keyword(validator, value, instance, schema) or ()

    return checked


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not pattern_engine().search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    engine = pattern_engine()
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if engine.search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def additional_properties(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The keys of ``instance`` that neither ``properties`` nor ``patternProperties`` of
    ``schema`` name."""
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    engine = pattern_engine()
    return [
        key
        for key in instance
        if key not in properties and not any(engine.search(p, key) for p in patterns)
    ]


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Any) -> Any:
    if not validator.is_type(instance, "object"):
        return
    extras = additional_properties(instance, schema)
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        unexpected = ", ".join(repr(key) for key in sorted(extras))
        yield ValidationError(f"Additional properties are not allowed ({unexpected} unexpected)")


def _canonical(value: Any) -> Any:
    """A form of ``value`` equal for JSON-equal values (1 == 1.0, true != 1, key order)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {"o": sorted((k, _canonical(v)) for k, v in value.items())}
    if isinstance(value, list):
        return {"a": [_canonical(v) for v in value]}
    return value


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    # jsonschema compares unhashable items pairwise (quadratic, and not interruptible).
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    for item in instance:
        key = json.dumps(_canonical(item), sort_keys=True, default=str)
        if key in seen:
            yield ValidationError(f"{instance!r} has non-unique elements")
            return
        seen.add(key)


_KEYWORDS = dict(Draft202012Validator.VALIDATORS) | {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "uniqueItems": _unique_items,
}
InputValidator: Any = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {name: _budgeted(fn) for name, fn in _KEYWORDS.items()}
)


# --- checks when a schema is saved --------------------------------------------------


def _schema_nodes(schema: Any) -> Iterator[dict[str, Any]]:
    """Every object in ``schema`` that may be a subschema (data keywords skipped)."""
    todo = [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            todo.extend(node)
        elif isinstance(node, dict):
            yield node
            todo.extend(v for k, v in node.items() if k not in _DATA_KEYWORDS)


def pattern_problems(schema: Any) -> list[Violation]:
    """Patterns the process's engine cannot use, and ``unevaluatedProperties`` beside
    ``patternProperties`` (jsonschema would match those with Python's ``re``)."""
    engine = pattern_engine()
    problems: list[Violation] = []
    seen_unevaluated = seen_pattern_properties = False
    for node in _schema_nodes(schema):
        patterns: list[str] = []
        if isinstance(node.get("pattern"), str):
            patterns.append(node["pattern"])
        if isinstance(node.get("patternProperties"), dict):
            seen_pattern_properties = True
            patterns.extend(node["patternProperties"])
        seen_unevaluated = seen_unevaluated or "unevaluatedProperties" in node
        for pattern in patterns:
            why = engine.problem(pattern)
            if why is not None:
                problems.append({"field": "inputSchema", "message": f"pattern {pattern!r} {why}"})
    if seen_unevaluated and seen_pattern_properties:
        problems.append(
            {
                "field": "inputSchema",
                "message": "unevaluatedProperties cannot be combined with patternProperties",
            }
        )
    return problems


def expansion(schema: Any, resolve: Callable[[Any, str], Any], limit: int) -> int:
    """How many subschemas validation may apply to one place of the input, each
    reference unfolded where it is met (a reference back into a schema being unfolded
    counts once: it only applies deeper in the input). Stops counting past ``limit``."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    # Iterative post-order: (node, its children, the sum so far).
    stack: list[tuple[Any, Iterator[Any], int]] = []

    def enter(node: Any) -> int | None:
        if not isinstance(node, dict):
            return 1
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in on_path:
            return 1
        on_path.add(id(node))
        stack.append((node, _children(node, schema, resolve), 1))
        return None

    total = enter(schema)
    while stack:
        node, children, size = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.discard(id(node))
            sizes[id(node)] = min(size, limit + 1)
            total = sizes[id(node)]
            if stack:
                parent, siblings, parent_size = stack[-1]
                stack[-1] = (parent, siblings, min(parent_size + total, limit + 1))
            continue
        known = enter(child)
        if known is not None:
            stack[-1] = (node, children, min(size + known, limit + 1))
    return total if total is not None else 1


def _children(node: dict[str, Any], root: Any, resolve: Callable[[Any, str], Any]) -> Iterator[Any]:
    for key, value in node.items():
        if key in _DATA_KEYWORDS or key in ("$defs", "definitions"):
            continue  # definitions apply only where they are referenced
        if key == "$ref" and isinstance(value, str):
            try:
                yield resolve(root, value)[0]
            except LookupError:
                continue
        elif isinstance(value, dict):
            if key in ("properties", "patternProperties", "dependentSchemas"):
                yield from value.values()
            else:
                yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, dict))


def expansion_problems(schema: Any, resolve: Callable[[Any, str], Any]) -> list[Violation]:
    """The schema unfolds (through ``$ref``) into more than ``MAX_EXPANDED_SUBSCHEMAS``."""
    size = expansion(schema, resolve, MAX_EXPANDED_SUBSCHEMAS)
    if size <= MAX_EXPANDED_SUBSCHEMAS:
        return []
    return [
        {
            "field": "inputSchema",
            "message": f"unfolds through $ref into more than {MAX_EXPANDED_SUBSCHEMAS} "
            "subschemas: validating an input against it would cost too much",
        }
    ]
