"""Validation of server events against the official openai SDK's typed models (the spec)."""

from __future__ import annotations

from typing import Any

from openai.types.realtime.realtime_server_event import RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter

_ADAPTER: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)


def unknown_fields(model: BaseModel, path: str = "") -> list[str]:
    """Fields the SDK model did not declare (pydantic keeps them as extras), recursively."""
    found = [f"{path}{name}" for name in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        values = value if isinstance(value, list) else [value]
        for child in values:
            if isinstance(child, BaseModel):
                found += unknown_fields(child, f"{path}{name}.")
    return found


def assert_conforms(event: dict[str, Any]) -> BaseModel:
    """Parse a wire event with the SDK's models; fail on unknown types or fields."""
    model = _ADAPTER.validate_python(event)
    assert isinstance(model, BaseModel)
    assert model.type == event["type"], f"parsed as {model.type}, sent {event['type']}"  # type: ignore[attr-defined]
    extras = unknown_fields(model)
    assert not extras, f"{event['type']} carries fields the SDK does not know: {extras}"
    return model
