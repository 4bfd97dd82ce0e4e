"""The JSON Schema of a tool's parameters: checked when the tool is defined, applied to the
arguments a model sends before the tool runs.

A schema comes from a tenant (a webhook tool) or a client (`session.update`), arguments from a
model: both are untrusted. Validation runs on the event loop, so a schema is accepted only if
checking any arguments against it has a bounded cost:
- size: at most `MAX_SCHEMA_BYTES` of JSON, subschemas nested at most `MAX_SCHEMA_DEPTH` deep;
- references: only to the schema's own `$defs` (`#/$defs/name`), never remote (nothing is ever
  fetched), never recursive, and with references expanded at most `MAX_EXPANDED_SUBSCHEMAS`
  subschemas (references can otherwise fan out exponentially);
- regular expressions (`pattern`, `patternProperties`): Python's `re` backtracks and cannot be
  interrupted, so no repetition may contain another repetition, an alternation or a
  backreference (the shapes of exponential backtracking), at most `MAX_UNBOUNDED_REPEATS`
  repetitions may be unbounded (each one multiplies the work by the subject's length), and
  a string checked against a pattern is at most `MAX_PATTERN_SUBJECT_CHARS` long.
"""

from __future__ import annotations

import json
import re

# The parser behind `re` (the only way to see a pattern's structure; typeshed has no stubs of
# these private modules, and their public aliases `sre_*` are deprecated).
import re._constants as sre_constants  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from jsonschema.validators import extend

from voice.engine.errors import InvalidRequestError, ToolError

MAX_SCHEMA_BYTES = 16_384
MAX_SCHEMA_DEPTH = 16
MAX_EXPANDED_SUBSCHEMAS = 2_000
MAX_PATTERN_CHARS = 256
MAX_UNBOUNDED_REPEATS = 2
MAX_PATTERN_SUBJECT_CHARS = 256
MAX_ERROR_CHARS = 300

# Keywords whose value is a subschema, a list of subschemas, or a map of them (Draft 2020-12
# and the older `definitions`): the parts of a schema that validation evaluates.
_SCHEMA_KEYWORDS = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "items",
        "contains",
        "additionalProperties",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_SCHEMA_LIST_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_MAP_KEYWORDS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)
# Keywords that move a reference's base or resolve at run time: a tool's schema needs none.
_REFUSED_KEYWORDS = frozenset(
    {"$id", "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor"}
)
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_LOCAL_REF = re.compile(r"#/\$defs/([^/]+)")
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT)


class UnsafeSchemaError(ValueError):
    """A schema that is valid JSON Schema but too costly (or unsupported) to check."""


def check_tool_schema(schema: object, *, param: str = "parameters") -> None:
    """Accept a tool's parameters schema or raise `InvalidRequestError` naming `param`."""
    problem = schema_problem(schema)
    if problem is not None:
        raise InvalidRequestError(f"{param} {problem}", param=param)


def schema_problem(schema: object) -> str | None:
    """What is wrong with a tool's parameters schema, or None if it may be used."""
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        return "must be a JSON schema of type object"
    try:
        _checked_validator(_canonical(schema))
    except SchemaError as error:
        return f"is not a valid JSON Schema (Draft 2020-12): {_capped(error.message)}"
    except UnsafeSchemaError as error:
        return f"is not accepted: {_capped(str(error))}"
    except (TypeError, ValueError):  # json.dumps refused it
        return "must be JSON"
    return None


def validate_arguments(arguments: Mapping[str, object], schema: Mapping[str, object]) -> None:
    """Raise `ToolError`, in words a model can act on, unless `arguments` match `schema`."""
    try:
        validator = _checked_validator(_canonical(schema))
    except (SchemaError, TypeError, ValueError) as error:
        # Stored before these checks existed: refused rather than risked on the event loop.
        raise ToolError("the tool's parameters schema is not accepted") from error
    if _longest_key(arguments) > MAX_PATTERN_SUBJECT_CHARS:
        raise ToolError(f"argument names must be at most {MAX_PATTERN_SUBJECT_CHARS} characters")
    mismatch = best_match(validator.iter_errors(arguments))
    if mismatch is not None:
        raise ToolError(_explained(mismatch))


# --- building a validator once per schema -------------------------------------------------


def _canonical(schema: Mapping[str, object]) -> str:
    try:
        text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    except RecursionError as error:
        raise UnsafeSchemaError("it is nested too deeply") from error
    if len(text.encode()) > MAX_SCHEMA_BYTES:
        raise UnsafeSchemaError(f"it exceeds {MAX_SCHEMA_BYTES} bytes")
    return text


@lru_cache(maxsize=256)
def _checked_validator(canonical: str) -> Draft202012Validator:
    """A validator of a schema that passed the meta-schema and the cost checks (cached: the
    same few schemas are used for every call of a deployment)."""
    schema = json.loads(canonical)
    # The cost first: it stops at the depth limit, where the meta-schema check would recurse.
    _check_cost(schema)
    _BoundedValidator.check_schema(schema)
    validator: Draft202012Validator = _BoundedValidator(schema)
    return validator


def _check_cost(schema: dict[str, Any]) -> None:
    definitions = schema.get("$defs")
    definitions = definitions if isinstance(definitions, dict) else {}
    expanded: dict[str, int] = {}

    def size(node: object, depth: int, expanding: tuple[str, ...]) -> int:
        if depth > MAX_SCHEMA_DEPTH:
            raise UnsafeSchemaError(f"subschemas are nested deeper than {MAX_SCHEMA_DEPTH}")
        if not isinstance(node, dict):
            return 1  # true, false
        total = 1
        for keyword, value in node.items():
            if keyword in _REFUSED_KEYWORDS or (keyword == "$schema" and value != _DIALECT):
                if keyword == "$schema":
                    raise UnsafeSchemaError(f"$schema must be {_DIALECT} or left out")
                raise UnsafeSchemaError(f"{keyword} is not supported in a tool's parameters")
            if keyword == "$ref":
                total += referenced(value, depth, expanding)
            elif keyword == "pattern" and isinstance(value, str):
                _check_pattern(value)
            elif keyword == "patternProperties" and isinstance(value, dict):
                for pattern in value:
                    _check_pattern(pattern)
            for child in _subschemas(keyword, value):
                total += size(child, depth + 1, expanding)
            if total > MAX_EXPANDED_SUBSCHEMAS:
                raise UnsafeSchemaError(
                    f"it has more than {MAX_EXPANDED_SUBSCHEMAS} subschemas with $ref expanded"
                )
        return total

    def referenced(ref: object, depth: int, expanding: tuple[str, ...]) -> int:
        match = _LOCAL_REF.fullmatch(ref) if isinstance(ref, str) else None
        if match is None:
            raise UnsafeSchemaError(f"$ref {ref!r}: only #/$defs/<name> is supported")
        name = match.group(1).replace("~1", "/").replace("~0", "~")
        if name in expanding:
            raise UnsafeSchemaError(f"$ref {ref!r} is recursive")
        if name not in definitions:
            raise UnsafeSchemaError(f"$ref {ref!r} names no entry of $defs")
        if name not in expanded:
            expanded[name] = size(definitions[name], depth + 1, (*expanding, name))
        return expanded[name]

    size(schema, 0, ())


def _subschemas(keyword: str, value: object) -> Iterator[object]:
    if keyword in _SCHEMA_KEYWORDS:
        yield value
    elif keyword in _SCHEMA_LIST_KEYWORDS and isinstance(value, list):
        yield from value
    elif keyword in _SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
        yield from value.values()


# --- regular expressions ------------------------------------------------------------------


def _check_pattern(pattern: str) -> None:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UnsafeSchemaError(f"a pattern is longer than {MAX_PATTERN_CHARS} characters")
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as error:
        raise UnsafeSchemaError(f"pattern {pattern!r} is not a regular expression") from error
    unbounded = _unbounded_repeats(parsed, pattern, inside_repeat=False)
    if unbounded > MAX_UNBOUNDED_REPEATS:
        raise UnsafeSchemaError(
            f"pattern {pattern!r} has {unbounded} unbounded repetitions (at most "
            f"{MAX_UNBOUNDED_REPEATS}: each multiplies the cost of matching)"
        )


def _unbounded_repeats(items: Any, pattern: str, *, inside_repeat: bool) -> int:
    """Unbounded repetitions in a parsed pattern; raises on a shape that backtracks
    exponentially (a repetition of something that repeats, alternates or refers back)."""
    count = 0
    for opcode, argument in items:
        if opcode in _REPEATS:
            _low, high, body = argument
            repeats = high > 1
            if repeats and inside_repeat:
                raise UnsafeSchemaError(f"pattern {pattern!r} nests repetitions")
            count += high == sre_constants.MAXREPEAT
            count += _unbounded_repeats(body, pattern, inside_repeat=inside_repeat or repeats)
        elif opcode == sre_constants.SUBPATTERN:
            count += _unbounded_repeats(argument[-1], pattern, inside_repeat=inside_repeat)
        elif opcode == sre_constants.BRANCH:
            if inside_repeat:
                raise UnsafeSchemaError(f"pattern {pattern!r} repeats an alternation")
            for branch in argument[1]:
                count += _unbounded_repeats(branch, pattern, inside_repeat=False)
        elif opcode in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            count += _unbounded_repeats(argument[1], pattern, inside_repeat=inside_repeat)
        elif opcode in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
            raise UnsafeSchemaError(f"pattern {pattern!r} refers back to a group")
        elif opcode == sre_constants.ATOMIC_GROUP:
            count += _unbounded_repeats(argument, pattern, inside_repeat=inside_repeat)
    return count


def _bounded_pattern(
    validator: Any, pattern: str, instance: object, schema: Mapping[str, object]
) -> Iterator[ValidationError]:
    """`pattern`, on strings short enough for the checked pattern's worst case."""
    if not isinstance(instance, str):
        return
    if len(instance) > MAX_PATTERN_SUBJECT_CHARS:
        yield ValidationError(
            f"is longer than {MAX_PATTERN_SUBJECT_CHARS} characters, the most checked "
            f"against the pattern {pattern!r}"
        )
    elif re.search(pattern, instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# Draft 2020-12 with the bounded `pattern` (the stubs leave `extend` untyped).
_BoundedValidator = extend(Draft202012Validator, {"pattern": _bounded_pattern})  # type: ignore[no-untyped-call]


# --- errors a model can read --------------------------------------------------------------


def _explained(error: ValidationError) -> str:
    where = ".".join(str(part) for part in error.absolute_path)
    required = error.validator_value
    arguments = error.instance
    if error.validator == "required" and isinstance(required, list) and isinstance(arguments, dict):
        missing = [str(name) for name in required if name not in arguments]
        of = f" of {where!r}" if where else ""
        return _capped(f"missing required arguments{of}: {', '.join(missing)}")
    if error.validator == "type" and where:
        expected = error.validator_value
        names = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return _capped(f"argument {where!r} must be of type {names}")
    if where:
        return _capped(f"argument {where!r}: {error.message}")
    return _capped(f"arguments: {error.message}")


def _longest_key(arguments: Mapping[str, object]) -> int:
    """The longest property name anywhere in the arguments (walked without recursion: they
    may nest as deep as the JSON parser allows)."""
    longest, pending = 0, list[object]([arguments])
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            longest = max(longest, *(len(str(key)) for key in value), 0)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return longest


def _capped(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
