"""``$ref`` rules of input schemas, schemas that cannot be evaluated, and strict cursors."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tarsify.domain.config import ConfigOverrides, config_problems
from tarsify.domain.errors import InvalidQuery
from tarsify.domain.merge import processed_input_schema
from tarsify.domain.pagination import Cursor
from tarsify.domain.schema import UNUSABLE_SCHEMA, input_schema_problems, validate_payload
from tarsify.domain.schema_refs import ref_problems

TEXT = {"type": "string", "minLength": 2}


def obj(props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, **extra}


def problem_fields(schema: Any) -> list[str]:
    return [p["field"] for p in input_schema_problems(schema)]


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        (obj({"a": {"$ref": "http://example.com/s.json"}}), "inputSchema.properties.a.$ref"),
        (obj({"a": {"$ref": "file:///etc/passwd"}}), "inputSchema.properties.a.$ref"),
        (obj({"a": {"$ref": "other.json#/x"}}), "inputSchema.properties.a.$ref"),
        (obj({"a": {"$ref": "#/$defs/missing"}}), "inputSchema.properties.a.$ref"),
        (obj({"a": {"$ref": "#name"}}), "inputSchema.properties.a.$ref"),
        (obj({"a": {"$ref": "#/properties/a/type"}}), "inputSchema.properties.a.$ref"),
        (obj({}, **{"$ref": "#"}), "inputSchema.$ref"),
        (
            obj(
                {"a": {"$ref": "#/$defs/x"}},
                **{"$defs": {"x": {"$ref": "#/$defs/y"}, "y": {"anyOf": [{"$ref": "#/$defs/x"}]}}},
            ),
            "inputSchema.$defs.y.anyOf.0.$ref",
        ),
        (
            obj({"a": {"allOf": [{"$ref": "#/properties/a"}]}}),
            "inputSchema.properties.a.allOf.0.$ref",
        ),
        (obj({"a": {"$id": "http://x/a", "type": "string"}}), "inputSchema.properties.a.$id"),
        (obj({"a": {"$dynamicRef": "#meta"}}), "inputSchema.properties.a.$dynamicRef"),
    ],
)
def test_unusable_references_are_refused_with_their_path(schema: Any, field: str) -> None:
    assert field in problem_fields(schema)


def test_local_references_and_recursion_through_the_input_are_fine() -> None:
    tree = obj(
        {
            "name": {"$ref": "#/$defs/text"},
            "children": {"type": "array", "items": {"$ref": "#"}},
            "parent": {"$ref": "#"},
            "odd~/name": TEXT,
            "alias": {"$ref": "#/properties/odd~0~1name"},
            "escaped": {"$ref": "#/%24defs/text"},
        },
        **{"$defs": {"text": TEXT}, "$id": "https://tarsify.test/schema"},
    )
    assert input_schema_problems(tree) == []
    assert validate_payload(tree, {"name": "ab", "children": [{"name": "cd"}]}) == []
    bad = validate_payload(tree, {"name": "x", "children": [{"name": 5}], "alias": "y"})
    assert [v["field"] for v in bad] == ["alias", "children.0.name", "name"]


@pytest.mark.parametrize(
    "schema",
    [
        obj({"a": TEXT}, **{"$ref": "#"}),  # stored before references were checked
        obj({"a": {"$ref": "#/$defs/gone"}}),
        obj({"a": {"$ref": "http://127.0.0.1:9/never-fetched.json"}}),
    ],
)
def test_a_schema_that_cannot_be_evaluated_gives_a_violation_not_an_exception(
    schema: Any,
) -> None:
    assert validate_payload(schema, {"a": "hello"}) == [UNUSABLE_SCHEMA]


def test_defaults_are_checked_against_referenced_property_schemas() -> None:
    schema = obj({"style": {"$ref": "#/$defs/text"}}, **{"$defs": {"text": TEXT}})
    good = ConfigOverrides.parse({"defaultInputs": {"style": "oil"}})
    bad = ConfigOverrides.parse({"lockedInputs": {"style": "x"}})
    assert config_problems(good, schema) == []
    assert [p["field"] for p in config_problems(bad, schema)] == [
        "configOverrides.lockedInputs.style"
    ]


def test_a_hidden_field_another_property_refers_to_is_a_config_problem() -> None:
    schema = obj({"seed": {"type": "integer"}, "seed2": {"$ref": "#/properties/seed"}})
    config = ConfigOverrides.parse({"hiddenFields": ["seed"]})
    assert [p["field"] for p in config_problems(config, schema)] == [
        "configOverrides.hiddenFields.seed"
    ]
    assert ref_problems(schema) == []


def _cursor_text(stamp: Any, ident: Any) -> str:
    raw = json.dumps([stamp, ident]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


ID = str(uuid.uuid4())


@pytest.mark.parametrize(
    "text",
    [
        _cursor_text("0001-01-01T00:00:00+23:59", ID),  # extreme offset: overflows in UTC
        _cursor_text("9999-12-31T23:59:59-23:59", ID),
        _cursor_text("2025-01-01T10:00:00+02:00", ID),  # never issued: not UTC
        _cursor_text("2025-01-01T10:00:00", ID),
        _cursor_text("2025-01-01 10:00:00+00:00", ID),
        _cursor_text("2025-01-01T10:00:00+00:00", ID.upper()),
        _cursor_text("2025-01-01T10:00:00+00:00", "{" + ID + "}"),
        _cursor_text("2025-01-01T10:00:00+00:00", 5),
        _cursor_text("2025-13-01T10:00:00+00:00", ID),
        _cursor_text("2025-01-01T10:00:00+00:00", ID) + "==",
        base64.urlsafe_b64encode(json.dumps(["2025-01-01T10:00:00+00:00", ID, 1]).encode())
        .decode()
        .rstrip("="),
        "A" * 300,
        "\x00",
    ],
)
def test_cursors_not_issued_by_us_are_invalid_queries(text: str) -> None:
    with pytest.raises(InvalidQuery) as info:
        Cursor.decode(text)
    assert info.value.details == [
        {"field": "cursor", "message": "not a cursor from a previous page"}
    ]


def test_cursor_instants_are_issued_in_utc_and_read_back_equal() -> None:
    ident = uuid.uuid4()
    local = datetime(2025, 6, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=3)))
    for at in (local, datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)):
        text = Cursor(at=at, id=ident).encode()
        decoded = Cursor.decode(text)
        assert decoded == Cursor(at=at, id=ident) and decoded.at.utcoffset() == timedelta(0)


def test_the_shown_schema_is_built_from_any_stored_schema() -> None:
    config = ConfigOverrides.parse({"hiddenFields": ["a"], "defaultInputs": {"b": 1}})
    for stored in ({"type": "object", "properties": [1]}, {"$ref": "#", "properties": None}):
        shown = processed_input_schema(stored, config)
        assert validate_payload(shown, {}) in ([], [UNUSABLE_SCHEMA])


@pytest.mark.parametrize(
    "ref",
    [
        "#/allOf/²",  # a Unicode digit: int() refuses it
        "#/allOf/\u0660",  # an Arabic-Indic zero: int() reads it, RFC 6901 does not
        "#/allOf/00",  # a leading zero is no array index
        "#/allOf/-1",
        "#%2F$defs%2Ftext",  # an encoded first "/" names an anchor for the validator
        "#%2f$defs/text",
    ],
)
def test_references_the_validator_would_read_otherwise_are_refused(ref: str) -> None:
    schema = obj({"a": {"$ref": ref}}, allOf=[TEXT], **{"$defs": {"text": TEXT}})
    assert "inputSchema.properties.a.$ref" in problem_fields(schema)


@pytest.mark.parametrize(
    ("ref", "accepted"),
    [
        ("#/$defs/pair/anyOf/1", True),
        ("#/$defs/text", True),
        ("#/%24defs/te%78t", True),
        ("#/$defs/text~1", True),
        ("#/$defs/text%2F", False),  # decoded before splitting: "text", "" (both readers)
        ("#/$defs/pair/anyOf/2", False),
        ("#/$defs/pair/anyOf/01", False),
    ],
)
def test_every_reference_accepted_at_save_resolves_when_validating(
    ref: str, accepted: bool
) -> None:
    defs = {"text": TEXT, "text/": TEXT, "pair": {"anyOf": [{"type": "integer"}, TEXT]}}
    schema = obj({"a": {"$ref": ref}}, **{"$defs": defs})
    assert (input_schema_problems(schema) == []) is accepted
    if accepted:
        assert validate_payload(schema, {"a": "hello"}) == []
        assert [v["field"] for v in validate_payload(schema, {"a": "x"})] == ["a"]


DRAFT7 = "http://json-schema.org/draft-07/schema#"
DIALECT_2020 = "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        # A nested dialect would make the validator switch to jsonschema's stock class for
        # that part: Python's backtracking patterns and no time budget.
        (obj({"a": {"$schema": DRAFT7, "type": "string"}}), "inputSchema.properties.a.$schema"),
        (obj({}, **{"$defs": {"x": {"$schema": DIALECT_2020}}}), "inputSchema.$defs.x.$schema"),
        (obj({"a": {"$ref": "#"}}, **{"$schema": DIALECT_2020}), "inputSchema.properties.a.$ref"),
        (obj({}, **{"$schema": DRAFT7}), "inputSchema.$schema"),
    ],
)
def test_only_the_root_names_the_dialect_inputs_are_checked_with(
    schema: dict[str, Any], field: str
) -> None:
    assert problem_fields(schema) == [field]


def test_the_root_may_name_the_2020_12_dialect() -> None:
    assert problem_fields(obj({"a": TEXT}, **{"$schema": DIALECT_2020})) == []
    assert problem_fields(obj({"a": TEXT}, **{"$schema": DIALECT_2020 + "#"})) == []
    # A reference to the root is fine when the root names no dialect.
    assert problem_fields(obj({"a": {"type": "array", "items": {"$ref": "#"}}})) == []
