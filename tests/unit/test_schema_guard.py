"""The cost bounds of input schemas: $ref expansion, the pattern engine, the time budget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.patterns.re2 import Re2Patterns
from tarsify.domain import config, schema_guard
from tarsify.domain.errors import ValidationBudgetSpent
from tarsify.domain.schema import PayloadCheck, input_schema_problems
from tarsify.domain.schema_guard import (
    MAX_EXPANDED_SUBSCHEMAS,
    YIELD_EVERY_KEYWORDS,
    Budget,
    PythonPatterns,
    expansion,
    pattern_engine,
    use_patterns,
)
from tarsify.domain.schema_refs import resolve


def dag(levels: int) -> dict[str, Any]:
    defs: dict[str, Any] = {"L0": {"type": "integer"}}
    for n in range(1, levels + 1):
        defs[f"L{n}"] = {"allOf": [{"$ref": f"#/$defs/L{n - 1}"}, {"$ref": f"#/$defs/L{n - 1}"}]}
    return {"type": "object", "properties": {"x": {"$ref": f"#/$defs/L{levels}"}}, "$defs": defs}


class Recording:
    """A pattern engine that records what it was asked."""

    def __init__(self) -> None:
        self.searched: list[tuple[str, str]] = []

    def problem(self, pattern: str) -> str | None:
        return "is refused" if pattern == "refuse me" else None

    def search(self, pattern: str, text: str) -> bool:
        self.searched.append((pattern, text))
        return text.startswith("ok")


@pytest.fixture
def engine() -> Iterator[Recording]:
    before = pattern_engine()
    recording = Recording()
    use_patterns(recording)
    yield recording
    use_patterns(before)


def test_expansion_counts_each_reference_where_it_is_met() -> None:
    # L0: 1 node; Ln: the allOf node, its two $ref nodes and L(n-1) under each.
    sizes = [expansion(dag(n), resolve, 10**9) for n in range(4)]
    # root + properties.x ($ref node) + Ln unfolded
    unfolded = [1]
    for _ in range(3):
        unfolded.append(1 + 2 * (1 + unfolded[-1]))
    assert sizes == [2 + u for u in unfolded]
    assert expansion(dag(17), resolve, MAX_EXPANDED_SUBSCHEMAS) == MAX_EXPANDED_SUBSCHEMAS + 1


def test_a_reference_that_descends_into_the_input_counts_once() -> None:
    tree = {
        "type": "object",
        "properties": {"child": {"$ref": "#"}, "name": {"type": "string"}},
    }
    assert expansion(tree, resolve, 1000) == 4
    assert input_schema_problems(tree) == []


def test_schemas_that_unfold_beyond_the_bound_are_refused() -> None:
    assert input_schema_problems(dag(11)) == []
    [problem] = input_schema_problems(dag(12))
    assert problem["field"] == "inputSchema"
    assert f"more than {MAX_EXPANDED_SUBSCHEMAS} subschemas" in problem["message"]


def test_every_pattern_keyword_goes_through_the_engine(engine: Recording) -> None:
    schema = {
        "type": "object",
        "properties": {"p": {"type": "string", "pattern": "P"}},
        "patternProperties": {"K": {"type": "integer"}},
        "additionalProperties": False,
    }
    check = PayloadCheck(schema)
    violations = check({"p": "bad", "okey": 1, "other": 2})
    assert {v["field"] for v in violations} == {"p", "other"}
    assert ("P", "bad") in engine.searched
    assert ("K", "okey") in engine.searched  # patternProperties
    assert ("K", "other") in engine.searched  # additionalProperties
    assert check({"p": "ok", "okey": "not an integer"}) == [
        {"field": "okey", "message": "'not an integer' is not of type 'integer'"}
    ]


def test_patterns_the_engine_refuses_are_refused_when_saved(engine: Recording) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string", "pattern": "refuse me"}},
        "default": {"pattern": "refuse me"},  # data, not a schema: not checked
    }
    assert input_schema_problems(schema) == [
        {"field": "inputSchema", "message": "pattern 'refuse me' is refused"}
    ]
    keyed = {"type": "object", "patternProperties": {"refuse me": {}}}
    assert len(input_schema_problems(keyed)) == 1
    mixed = {"type": "object", "patternProperties": {"a": {}}, "unevaluatedProperties": False}
    assert input_schema_problems(mixed) == [
        {
            "field": "inputSchema",
            "message": "unevaluatedProperties cannot be combined with patternProperties",
        }
    ]


def test_re2_refuses_what_it_cannot_match_in_linear_time() -> None:
    re2 = Re2Patterns()
    assert re2.problem("^(a+)+$") is None
    assert not re2.search("^(a+)+$", "a" * 100 + "!")
    assert re2.search("^(a+)+$", "aaa")
    why = re2.problem("^(a)\\1$")
    assert why is not None and "RE2" in why
    assert re2.problem("(?=a)") is not None  # lookaround
    assert PythonPatterns().problem("(") is not None


def test_a_spent_budget_stops_validation_and_is_not_an_unusable_schema() -> None:
    check = PayloadCheck(dag(3))
    assert check({"x": 1}) == []
    with pytest.raises(ValidationBudgetSpent) as caught:
        check({"x": 1}, Budget(-1.0))
    assert caught.value.code == "ERR_2005"
    assert check({"x": "no"}, Budget(60.0)) != []
    assert check({"x": 1}) == []  # no budget, no limit


def test_the_budget_pays_for_every_keyword_behind_references_and_subschemas() -> None:
    """The budget reaches every validator derived for a subschema or a reference."""
    spent = Budget(60.0)
    assert PayloadCheck(dag(3))({"x": 1}, spent) == []
    # The root's type and properties, x's $ref, then 29 for L3: a level is its allOf and,
    # for each of its two branches, a $ref and the level below (L0: its type).
    assert spent.keywords == 3 + 29
    shared = Budget(60.0)
    PayloadCheck(dag(3))({"x": 1}, shared)
    PayloadCheck(dag(3))({"x": 1}, shared)
    assert shared.keywords == 2 * spent.keywords  # one budget, several checks


def test_a_budget_is_refused_once_past_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(schema_guard.time, "monotonic", lambda: now[0])
    spent = Budget(2.0)
    check = PayloadCheck({"type": "integer"})
    now[0] = 102.0
    assert check(1, spent) == []  # at the deadline: still within the budget
    now[0] = 102.001
    with pytest.raises(ValidationBudgetSpent):
        check(1, spent)


def test_a_budgeted_check_hands_the_lock_back_every_few_keywords(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A check on a thread yields the interpreter lock to the event loop's thread every
    YIELD_EVERY_KEYWORDS keywords (a voluntary ``time.sleep(0)``), never outside a budget."""
    sleeps: list[float] = []
    monkeypatch.setattr(schema_guard.time, "sleep", sleeps.append)
    check = PayloadCheck(
        {"type": "object", "properties": {"xs": {"type": "array", "items": {"minimum": 0}}}}
    )
    check({"xs": list(range(200))})
    assert sleeps == []  # no budget: nothing handed back
    check({"xs": list(range(200))}, Budget(60.0))
    # One budgeted keyword per item (its minimum) and a few for the object: ~205 checked.
    assert set(sleeps) == {0}
    assert 200 // YIELD_EVERY_KEYWORDS <= len(sleeps) <= 210 // YIELD_EVERY_KEYWORDS + 1
    assert 8 <= YIELD_EVERY_KEYWORDS <= 64


@pytest.mark.parametrize(
    ("items", "unique"),
    [
        ([1, 1.0], False),
        ([True, 1], True),
        ([{"a": 1, "b": [2]}, {"b": [2.0], "a": 1}], False),
        ([[1, 2], [2, 1]], True),
        ([{"a": 1}, ["a", 1]], True),
        ([None, False, 0, ""], True),
    ],
)
def test_unique_items_follows_json_equality(items: list[Any], unique: bool) -> None:
    check = PayloadCheck({"type": "array", "uniqueItems": True})
    assert (check(items) == []) is unique


def test_developer_values_too_costly_to_check_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "VALUE_CHECK_BUDGET_S", 1.0)
    schema = {
        "type": "object",
        "properties": {"xs": {"type": "array", "items": {"$ref": "#/$defs/L11"}}},
        "$defs": dag(11)["$defs"],
    }
    cheap = config.ConfigOverrides.parse({"defaultInputs": {"xs": [0]}})
    assert config.config_problems(cheap, schema) == []
    costly = config.ConfigOverrides.parse({"defaultInputs": {"xs": [0] * 5000}})
    assert config.config_problems(costly, schema) == [
        {"field": "configOverrides", "message": "its values take too long to check"}
    ]
