"""Parsing what clients send: size, JSON, event type and fields, each refused with a clear code.

Events are checked against the official SDK's typed models (the protocol's spec), then turned
into the engine's vocabulary here, so the transport only dispatches.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import typing
from dataclasses import dataclass
from typing import Any

from openai.types.realtime.realtime_client_event import RealtimeClientEvent
from pydantic import TypeAdapter, ValidationError

from voice.engine.errors import AudioFormatError, InvalidRequestError
from voice.engine.events import Item
from voice.engine.response import ResponseOptions

MAX_MESSAGE_BYTES = 1024 * 1024
# AURA's own client events (documented extensions).
EXTENSION_TYPES = {"aura.playback.position"}
# A text frame is UTF-8, so a lone surrogate can only arrive as a JSON escape (\ud800).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _adapters() -> dict[str, TypeAdapter[Any]]:
    """One validator per event type: validating against the whole union tries every member
    (costly for the audio events that arrive 50 times a second) and reports the errors of
    the first member rather than of the event's own model."""
    union = typing.get_args(RealtimeClientEvent)[0]
    adapters: dict[str, TypeAdapter[Any]] = {}
    for model in typing.get_args(union):
        (event_type,) = typing.get_args(model.model_fields["type"].annotation)
        adapters[event_type] = TypeAdapter(model)
    return adapters


_ADAPTERS = _adapters()
STANDARD_TYPES = frozenset(_ADAPTERS)


@dataclass(frozen=True, slots=True)
class ClientEvent:
    type: str
    event_id: str | None
    payload: dict[str, Any]


def parse_client_event(text: str) -> ClientEvent:
    if len(text) > MAX_MESSAGE_BYTES:
        raise InvalidRequestError(
            f"message of {len(text)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit",
            code="message_too_large",
        )
    try:
        payload = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise InvalidRequestError(
            f"message is not valid JSON: {error}", code="invalid_json"
        ) from error
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(payload):
        # Such text cannot be sent to a provider nor stored: refused here, it never fails a
        # model request (which would count against the route's health for every session).
        raise InvalidRequestError(
            "message contains a lone UTF-16 surrogate (\\ud800-\\udfff): not valid Unicode",
            code="invalid_unicode",
        )
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise InvalidRequestError(
            "a client event is a JSON object with a string 'type'", code="invalid_event"
        )
    event_type = payload["type"]
    event_id = payload.get("event_id") if isinstance(payload.get("event_id"), str) else None
    if event_type not in STANDARD_TYPES and event_type not in EXTENSION_TYPES:
        raise InvalidRequestError(
            f"unknown event type {event_type[:64]!r}", code="unknown_event", param="type"
        )
    # session.update is checked field by field by session_config (AURA accepts more rates).
    if event_type in STANDARD_TYPES and event_type != "session.update":
        _validate_with_sdk(payload)
    return ClientEvent(
        type=event_type, event_id=event_id[:64] if event_id else None, payload=payload
    )


def _has_lone_surrogate(payload: Any) -> bool:
    # A loop, not recursion: the payload may be nested as deep as the JSON parser allows.
    pending = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _validate_with_sdk(payload: dict[str, Any]) -> None:
    try:
        _ADAPTERS[payload["type"]].validate_python(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "event"
        raise InvalidRequestError(
            f"invalid {payload['type']}: {where}: {first['msg']}", code="invalid_event", param=where
        ) from error


def decode_audio(payload: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(payload.get("audio", ""), validate=True)
    except (binascii.Error, ValueError) as error:
        raise AudioFormatError(
            "audio is not valid base64", code="invalid_base64", param="audio"
        ) from error


def item_to_create(payload: dict[str, Any]) -> Item:
    """The engine item of a `conversation.item.create` (text messages and tool results)."""
    item = payload["item"]
    kind = item.get("type")
    if kind == "function_call_output":
        return Item(
            id=item.get("id") or "",
            kind="function_call_output",
            call_id=item.get("call_id"),
            output=item.get("output", ""),
        )
    if kind == "message":
        texts = []
        for part in item.get("content") or []:
            if part.get("type") in ("input_text", "output_text", "text"):
                texts.append(part.get("text") or "")
            else:
                raise InvalidRequestError(
                    f"message content of type {part.get('type')!r} is not supported here; send "
                    "audio with input_audio_buffer.append",
                    param="item.content",
                )
        return Item(
            id=item.get("id") or "", kind="message", role=item.get("role"), text="".join(texts)
        )
    raise InvalidRequestError(f"items of type {kind!r} cannot be created", param="item.type")


def response_options(
    payload: dict[str, Any], *, default_modalities: tuple[str, ...]
) -> ResponseOptions:
    response = payload.get("response") or {}
    modalities = tuple(response.get("output_modalities") or default_modalities)
    max_tokens = response.get("max_output_tokens")
    tool_choice = response.get("tool_choice")
    if isinstance(tool_choice, dict):
        tool_choice = f"function:{tool_choice.get('name')}"
    return ResponseOptions(
        modalities=modalities,
        instructions=response.get("instructions"),
        max_output_tokens=None if max_tokens in (None, "inf") else int(max_tokens),
        tool_choice=tool_choice,
    )
