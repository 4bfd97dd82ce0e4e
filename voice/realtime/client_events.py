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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openai.types.realtime.realtime_client_event import RealtimeClientEvent
from pydantic import TypeAdapter, ValidationError

from voice.agent_config import PUBLIC_OVERRIDABLE
from voice.engine.errors import AudioFormatError, InvalidRequestError
from voice.engine.events import Item
from voice.engine.pipeline.response_services import ResponseOptions

MAX_MESSAGE_BYTES = 1024 * 1024
# Client-chosen item and call ids are stored with the transcript (Message.item_id and
# .tool_call_id are 64 characters); OpenAI documents no limit, so this is AURA's.
MAX_ITEM_ID_CHARS = 64
# AURA's own client events (documented extensions).
EXTENSION_TYPES = {"aura.playback.position", "aura.feedback"}
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
    # JSON can carry NUL only escaped; text with NUL can be neither stored nor safely logged.
    if "\\u0000" in text:
        _refuse_nul(payload)
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


def _strings_with_paths(payload: Any) -> Iterator[tuple[str, str]]:
    """Every string (keys included) under `payload` with where it is, e.g. `item.content[0]`.

    A loop, not recursion: the payload may be nested as deep as the JSON parser allows.
    """
    pending: list[tuple[Any, str]] = [(payload, "")]
    while pending:
        value, where = pending.pop()
        if isinstance(value, str):
            yield value, where
        elif isinstance(value, dict):
            for key, item in value.items():
                path = f"{where}.{key}" if where else str(key)
                pending.append((key, path))
                pending.append((item, path))
        elif isinstance(value, list):
            pending.extend((item, f"{where}[{index}]") for index, item in enumerate(value))


def _refuse_nul(payload: Any) -> None:
    """Raise naming a string (or key) under `payload` that holds a NUL character."""
    for value, where in _strings_with_paths(payload):
        if "\x00" in value:
            raise InvalidRequestError(
                f"{where[:200] or 'the event'} contains a NUL character (\\u0000), which text "
                "may not",
                code="invalid_value",
                param=where or None,
            )


def _has_lone_surrogate(payload: Any) -> bool:
    for value, _where in _strings_with_paths(payload):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
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


def refuse_overrides(event: ClientEvent, *, allowed: frozenset[str] | None) -> None:
    """Refuse an event that changes what the model is told or may do, beyond `allowed`.

    `allowed` is None for clients that may change everything (secret keys, client secrets);
    for publishable keys it is the agent's `public_overrides`. Session settings, per-response
    settings and system messages (instructions by another name) are all covered.
    """
    if allowed is None:
        return
    payload = event.payload
    if event.type == "session.update":
        _refuse_fields(payload.get("session"), "session", allowed)
    elif event.type == "response.create":
        _refuse_fields(payload.get("response"), "response", allowed)
    elif event.type == "conversation.item.create":
        item = payload.get("item") or {}
        if item.get("role") == "system" and "instructions" not in allowed:
            raise _not_allowed("item.role", "system messages (instructions)")


def _refuse_fields(fields: Any, where: str, allowed: frozenset[str]) -> None:
    if not isinstance(fields, dict):
        return  # not an object: the event's own validation refuses it
    for name in PUBLIC_OVERRIDABLE:
        if name in fields and name not in allowed:
            raise _not_allowed(f"{where}.{name}", f"{where}.{name}")


def _not_allowed(param: str, what: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{what} may not be changed with this key: the agent does not allow it "
        "(its public_overrides)",
        code="override_not_allowed",
        param=param,
    )


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
    item_id = _client_id(item.get("id"), "item.id")
    if kind == "function_call_output":
        return Item(
            id=item_id,
            kind="function_call_output",
            call_id=_client_id(item.get("call_id"), "item.call_id"),
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
        return Item(id=item_id, kind="message", role=item.get("role"), text="".join(texts))
    raise InvalidRequestError(f"items of type {kind!r} cannot be created", param="item.type")


def _client_id(value: str | None, param: str) -> str:
    """An id the client chose for an item or call, checked to fit where it is stored."""
    if value and len(value) > MAX_ITEM_ID_CHARS:
        raise InvalidRequestError(
            f"{param} is {len(value)} characters long; ids may have at most {MAX_ITEM_ID_CHARS}",
            code="invalid_value",
            param=param,
        )
    return value or ""


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
