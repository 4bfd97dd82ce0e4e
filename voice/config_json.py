"""Reading configuration JSON (an agent's settings, a client's session) with pydantic models:
strict JSON types, and the one fault a refusal names when there are several."""

from __future__ import annotations

from typing import NamedTuple

import annotated_types
from pydantic import BaseModel, ConfigDict
from pydantic_core import ErrorDetails

from voice.engine.errors import InvalidRequestError

# Where a fault is in a JSON value: keys and list indices.
Location = tuple[int | str, ...]
# A stored or sent setting is read as the JSON it is: no string is taken for a number.
STRICT_JSON = ConfigDict(strict=True, frozen=True, regex_engine="python-re")


class Fault(NamedTuple):
    """Where the reported fault of a JSON value is (`first_fault`)."""

    where: Location
    # The unknown fields of the object at `where`, reported rather than its other faults.
    unknown: list[str]
    # Pydantic's error type (`missing`, `too_long`, or a validator's own).
    kind: str


def first_fault(errors: list[ErrorDetails]) -> Fault:
    """The fault reported of a JSON value that failed its model (`errors` in pydantic's order).

    Pydantic lists faults in the order fields are declared, each object's unknown fields after
    its other faults; the unknown fields of an object are reported first.
    """
    first = errors[0]
    where = tuple(first["loc"])
    for depth in range(len(where)):
        unknown = [
            str(error["loc"][-1])
            for error in errors
            if error["type"] == "extra_forbidden" and tuple(error["loc"][:-1]) == where[:depth]
        ]
        if unknown:
            return Fault(where[:depth], sorted(unknown), "extra_forbidden")
    return Fault(where, [], first["type"])


def number_refusal(model: type[BaseModel], name: str, *, label: str) -> InvalidRequestError:
    """`label` is not a number within the bounds of `model`'s field `name`."""
    bounds = model.model_fields[name].metadata
    low = next(b.ge for b in bounds if isinstance(b, annotated_types.Ge))
    high = next(b.le for b in bounds if isinstance(b, annotated_types.Le))
    return InvalidRequestError(f"{label} must be a number from {low:g} to {high:g}", param=label)


def printable(text: str) -> bool:
    return all(character.isprintable() for character in text)
