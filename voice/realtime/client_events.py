"""Parsing what clients send: size, JSON, event type and fields, each refused with a clear code.

Each event is parsed into its model: the official SDK's (the protocol's spec) for the standard
events, AURA's (voice/realtime/aura_events.py) for its extensions and `session.update`. The
handlers get that model; the helpers here turn its parts into the engine's vocabulary.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import typing
from collections.abc import Iterator
from typing import Any, TypeAlias

from openai.types.realtime import (
    ConversationItem,
    ConversationItemCreateEvent,
    ConversationItemDeleteEvent,
    ConversationItemRetrieveEvent,
    ConversationItemTruncateEvent,
    InputAudioBufferAppendEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    OutputAudioBufferClearEvent,
    RealtimeConversationItemFunctionCallOutput,
    RealtimeConversationItemSystemMessage,
    RealtimeResponseCreateParams,
    ResponseCancelEvent,
    ResponseCreateEvent,
)
from openai.types.realtime.realtime_client_event import RealtimeClientEvent
from pydantic import BaseModel, ValidationError

from voice.agent_config import PUBLIC_OVERRIDABLE
from voice.engine.errors import AudioFormatError, InvalidRequestError
from voice.engine.events import Item, Modality
from voice.engine.pipeline.response_services import ResponseOptions
from voice.realtime.aura_events import (
    AURA_EVENTS,
    MAX_EVENT_ID_CHARS,
    AuraClientEvent,
    FeedbackEvent,
    PlaybackPosition,
    SessionUpdate,
    event_type_of,
    validation_refusal,
)

MAX_MESSAGE_BYTES = 1024 * 1024
# Client-chosen item and call ids are stored with the transcript (Message.item_id and
# .tool_call_id are 64 characters); OpenAI documents no limit, so this is AURA's.
MAX_ITEM_ID_CHARS = 64
# A text frame is UTF-8, so a lone surrogate can only arrive as a JSON escape (\ud800).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _sdk_models() -> dict[str, type[BaseModel]]:
    """The SDK's model of each standard event type. Each is validated on its own: validating
    against the whole union tries every member (costly for the audio events that arrive 50
    times a second) and reports the errors of the first member rather than of the event's own
    model."""
    union = typing.get_args(RealtimeClientEvent)[0]
    return {event_type_of(model): model for model in typing.get_args(union)}


_SDK_MODELS = _sdk_models()
STANDARD_TYPES = frozenset(_SDK_MODELS)
# session.update is AURA's (it accepts more rates than the SDK's model), checked field by
# field by session_config.
_MODELS: dict[str, type[BaseModel]] = {
    **_SDK_MODELS,
    **{event_type_of(model): model for model in AURA_EVENTS},
}
EXTENSION_TYPES = frozenset(_MODELS) - STANDARD_TYPES

# Every client event as handlers get it: the SDK's model, or AURA's where the SDK has none.
ClientEvent: TypeAlias = (
    ConversationItemCreateEvent
    | ConversationItemDeleteEvent
    | ConversationItemRetrieveEvent
    | ConversationItemTruncateEvent
    | InputAudioBufferAppendEvent
    | InputAudioBufferClearEvent
    | OutputAudioBufferClearEvent
    | InputAudioBufferCommitEvent
    | ResponseCancelEvent
    | ResponseCreateEvent
    | SessionUpdate
    | PlaybackPosition
    | FeedbackEvent
)


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
    model = _MODELS.get(event_type)
    if model is None:
        raise InvalidRequestError(
            f"unknown event type {event_type[:64]!r}", code="unknown_event", param="type"
        )
    try:
        event = typing.cast(ClientEvent, model.model_validate(payload))
    except ValidationError as error:
        if issubclass(model, AuraClientEvent):
            raise model.refusal(error.errors()) from error
        raise validation_refusal(event_type, error.errors()) from error
    if not isinstance(event, AuraClientEvent) and event.event_id is not None:
        # Only echoed back in errors: a long one is cut rather than refused, an empty one is none.
        event.event_id = event.event_id[:MAX_EVENT_ID_CHARS] or None
    return event


def claimed_event_id(text: str) -> str | None:
    """The `event_id` a refused frame gives, to echo in its error as OpenAI's server does: a
    non-empty string without NUL or lone surrogates, cut as a parsed one is; else None.

    Read again only when a frame is refused before it became an event (bad shape, unknown
    type); a frame over the size limit is not read at all.
    """
    if len(text) > MAX_MESSAGE_BYTES:
        return None
    try:
        payload = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    claimed = payload.get("event_id") if isinstance(payload, dict) else None
    if not isinstance(claimed, str) or "\x00" in claimed or _has_lone_surrogate(claimed):
        return None
    return claimed[:MAX_EVENT_ID_CHARS] or None


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


def refuse_overrides(event: ClientEvent, *, allowed: frozenset[str] | None) -> None:
    """Refuse an event that changes what the model is told or may do, beyond `allowed`.

    `allowed` is None for clients that may change everything (secret keys, client secrets);
    for publishable keys it is the agent's `public_overrides`. Session settings, per-response
    settings and system messages (instructions by another name) are all covered.
    """
    if allowed is None:
        return
    if isinstance(event, SessionUpdate) and isinstance(event.session, dict):
        # Not an object: session_config refuses it.
        _refuse_fields(set(event.session), "session", allowed)
    elif isinstance(event, ResponseCreateEvent) and event.response is not None:
        _refuse_fields(event.response.model_fields_set, "response", allowed)
    elif (
        isinstance(event, ConversationItemCreateEvent)
        and isinstance(event.item, RealtimeConversationItemSystemMessage)
        and "instructions" not in allowed
    ):
        raise _not_allowed("item.role", "system messages (instructions)")


def _refuse_fields(given: set[str], where: str, allowed: frozenset[str]) -> None:
    for name in PUBLIC_OVERRIDABLE:
        if name in given and name not in allowed:
            raise _not_allowed(f"{where}.{name}", f"{where}.{name}")


def _not_allowed(param: str, what: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{what} may not be changed with this key: the agent does not allow it "
        "(its public_overrides)",
        code="override_not_allowed",
        param=param,
    )


def decode_audio(event: InputAudioBufferAppendEvent) -> bytes:
    try:
        return base64.b64decode(event.audio, validate=True)
    except (binascii.Error, ValueError) as error:
        raise AudioFormatError(
            "audio is not valid base64", code="invalid_base64", param="audio"
        ) from error


def item_to_create(item: ConversationItem) -> Item:
    """The engine item of a `conversation.item.create` (text messages and tool results)."""
    item_id = _client_id(item.id, "item.id")
    if isinstance(item, RealtimeConversationItemFunctionCallOutput):
        return Item(
            id=item_id,
            kind="function_call_output",
            call_id=_client_id(item.call_id, "item.call_id"),
            output=item.output,
        )
    if item.type == "message":
        texts = []
        for part in item.content:
            if part.type in ("input_text", "output_text"):
                texts.append(getattr(part, "text", None) or "")
            else:
                raise InvalidRequestError(
                    f"message content of type {part.type!r} is not supported here; send "
                    "audio with input_audio_buffer.append",
                    param="item.content",
                )
        return Item(id=item_id, kind="message", role=item.role, text="".join(texts))
    raise InvalidRequestError(f"items of type {item.type!r} cannot be created", param="item.type")


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
    response: RealtimeResponseCreateParams | None, *, default_modalities: tuple[Modality, ...]
) -> ResponseOptions:
    response = response or RealtimeResponseCreateParams()
    max_tokens = response.max_output_tokens
    tool_choice = response.tool_choice
    return ResponseOptions(
        modalities=tuple(response.output_modalities or default_modalities),
        instructions=response.instructions,
        max_output_tokens=None if max_tokens in (None, "inf") else int(max_tokens),
        tool_choice=(
            tool_choice
            if tool_choice is None or isinstance(tool_choice, str)
            else f"function:{tool_choice.name}"
        ),
    )
