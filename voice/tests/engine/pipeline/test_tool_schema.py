"""Tool schemas (voice/engine/pipeline/tool_schema.py): a schema is checked once, when the tool is
defined, so that checking a model's arguments against it is always cheap; arguments that do
not match are explained to the model."""

from __future__ import annotations

import time

import pytest

from voice.engine.errors import InvalidRequestError, ToolError
from voice.engine.pipeline.tool_schema import (
    MAX_PATTERN_SUBJECT_CHARS,
    MAX_SCHEMA_BYTES,
    check_tool_schema,
    schema_problem,
    validate_arguments,
)

BOOKING: dict[str, object] = {
    "type": "object",
    "$defs": {"guest": {"type": "object", "properties": {"name": {"type": "string"}}}},
    "properties": {
        "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "seats": {"type": "integer", "minimum": 1, "maximum": 12},
        "guests": {"type": "array", "items": {"$ref": "#/$defs/guest"}},
        "area": {"enum": ["inside", "terrace"]},
    },
    "required": ["date", "seats"],
    "additionalProperties": False,
}


def test_a_schema_with_local_references_and_patterns_is_accepted() -> None:
    assert schema_problem(BOOKING) is None
    validate_arguments({"date": "2026-05-01", "seats": 2, "guests": [{"name": "Ada"}]}, BOOKING)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"seats": 2}, "missing required arguments: date"),
        ({"date": "2026-05-01", "seats": "2"}, "argument 'seats' must be of type integer"),
        ({"date": "2026-05-01", "seats": 40}, "argument 'seats': 40 is greater than"),
        ({"date": "tomorrow", "seats": 2}, "does not match"),
        ({"date": "2026-05-01", "seats": 2, "area": "roof"}, "argument 'area'"),
        ({"date": "2026-05-01", "seats": 2, "guests": [{"name": 7}]}, "'guests.0.name'"),
        ({"date": "2026-05-01", "seats": 2, "pets": 1}, "'pets' was unexpected"),
        ({"date": "1" * (MAX_PATTERN_SUBJECT_CHARS + 1), "seats": 2}, "is longer than"),
        ({"date": "2026-05-01", "seats": 2, "x" * 300: 1}, "argument names must be at most"),
    ],
)
def test_arguments_that_do_not_match_are_explained(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ToolError) as raised:
        validate_arguments(arguments, BOOKING)
    assert message in raised.value.message
    assert len(raised.value.message) <= 300


def fan_out(levels: int, width: int) -> dict[str, object]:
    """Each level refers `width` times to the next: width**levels subschemas once expanded."""
    definitions: dict[str, object] = {
        f"l{n}": {"anyOf": [{"$ref": f"#/$defs/l{n + 1}"}] * width} for n in range(levels)
    }
    definitions[f"l{levels}"] = {"type": "string"}
    return {"type": "object", "$defs": definitions, "properties": {"x": {"$ref": "#/$defs/l0"}}}


def nested(depth: int) -> dict[str, object]:
    schema: dict[str, object] = {"type": "string"}
    for _ in range(depth):
        schema = {"not": schema}
    return {"type": "object", "properties": {"x": schema}}


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "string"}, "must be a JSON schema of type object"),
        ({"type": "object", "properties": {"a": {"type": "strang"}}}, "valid JSON Schema"),
        ({"type": "object", "required": "a"}, "valid JSON Schema"),
        ({"type": "object", "properties": {"a": {"pattern": "[a-"}}}, "not a regular expression"),
        ({"type": "object", "$ref": "https://schemas.example/evil.json"}, "only #/$defs"),
        ({"type": "object", "$ref": "#/$defs/missing"}, "names no entry"),
        (
            {"type": "object", "$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
            "recursive",
        ),
        ({"type": "object", "$id": "https://schemas.example/x"}, "$id is not supported"),
        ({"type": "object", "$schema": "http://json-schema.org/draft-04/schema#"}, "$schema"),
        ({"type": "object", "properties": {"a": {"pattern": "(a+)+$"}}}, "nests repetitions"),
        ({"type": "object", "properties": {"a": {"pattern": "(x|xy)*z"}}}, "alternation"),
        ({"type": "object", "properties": {"a": {"pattern": r"(a)\1"}}}, "refers back"),
        ({"type": "object", "properties": {"a": {"pattern": r"\d*\d*\d*x"}}}, "3 unbounded"),
        ({"type": "object", "patternProperties": {"(a*)*": {}}}, "nests repetitions"),
        ({"type": "object", "description": "x" * MAX_SCHEMA_BYTES}, "exceeds"),
        (fan_out(levels=5, width=10), "subschemas with $ref expanded"),
        (nested(depth=40), "nested deeper"),
        (nested(depth=5_000), "nested too deeply"),
    ],
)
def test_malformed_and_hostile_schemas_are_refused_quickly(
    schema: dict[str, object], problem: str
) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidRequestError) as raised:
        check_tool_schema(schema, param="tools[0].parameters")
    assert time.monotonic() - started < 1.0
    assert problem in raised.value.message
    assert raised.value.message.startswith("tools[0].parameters ")
    assert raised.value.param == "tools[0].parameters"


def test_a_stored_schema_that_is_no_longer_accepted_refuses_the_call() -> None:
    # Written before schemas were checked: never evaluated on the event loop.
    stored = {"type": "object", "properties": {"a": {"type": "string", "pattern": "(a+)+$"}}}
    with pytest.raises(ToolError, match="schema is not accepted"):
        validate_arguments({"a": "a" * 40 + "!"}, stored)
