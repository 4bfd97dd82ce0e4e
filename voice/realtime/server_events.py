"""The engine's session events as OpenAI Realtime (GA) server events.

One function, one table: each engine event becomes exactly one wire event whose shape the
official SDK's typed models accept (tests validate every event against them). AURA's own
events (route decisions, turn metrics, conversation end) are sent only to clients that asked
for extensions, so a standard client never sees a type it does not know.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from voice.engine import events as ev
from voice.engine.errors import AuraError, ProviderError, ProviderUnavailableError
from voice.engine.routing import RoutesExhaustedError

Json = dict[str, Any]


_STAGE_NAMES = {"stt": "speech-to-text", "llm": "language model", "tts": "text-to-speech"}
_PROVIDER_MESSAGES = {
    "rate_limited": "The model provider is rate limiting requests; try again shortly.",
    "provider_timeout": "The model provider did not answer in time.",
    "provider_unreachable": "The model provider cannot be reached right now.",
    "provider_auth_failed": "The model provider refused the configured API key.",
    "missing_api_key": "No API key is configured for this model provider.",
    "credential_unreadable": "The stored key for this model provider cannot be read.",
}
_LOGS = "details are in the server's logs"


def public_message(error: AuraError) -> str:
    """The message a client may read. Our own messages go out as they are; a provider's words
    never do (they can quote keys, name internal hosts or come from an organization's own
    server): a failed provider is described by its code, the full story stays in the logs."""
    if isinstance(error, RoutesExhaustedError):
        stage = _STAGE_NAMES.get(error.stage, error.stage)
        if not error.failures:
            return f"No {stage} route is configured."
        codes = ", ".join(sorted({failure.code for failure in error.failures}))
        return f"No {stage} provider could answer ({codes}); {_LOGS}."
    if isinstance(error, ProviderError):
        fallback = (
            "The model provider is not available."
            if isinstance(error, ProviderUnavailableError)
            else "The model provider failed to answer."
        )
        return f"{_PROVIDER_MESSAGES.get(error.code, fallback)} ({_LOGS})"
    return error.message


def error_body(error: AuraError, *, event_id: str | None = None) -> Json:
    body: Json = {"type": error.error_type, "code": error.code, "message": public_message(error)}
    if error.param:
        body["param"] = error.param
    if event_id:
        body["event_id"] = event_id
    return body


def error_event(error: AuraError, *, event_id: str | None = None) -> Json:
    return {"type": "error", "error": error_body(error, event_id=event_id)}


def item_json(item: ev.Item) -> Json:
    base: Json = {
        "id": item.id,
        "object": "realtime.item",
        "type": item.kind,
        "status": item.status,
    }
    if item.kind == "function_call":
        return base | {
            "call_id": item.call_id,
            "name": item.name,
            "arguments": item.arguments or "",
        }
    if item.kind == "function_call_output":
        return base | {"call_id": item.call_id, "output": item.output or ""}
    content: Json = {"type": item.content_type}
    if item.content_type in ("input_text", "output_text"):
        content["text"] = item.text or ""
    elif item.content_type in ("input_audio", "output_audio"):
        content["transcript"] = item.text
    return base | {"role": item.role, "content": [content] if item.content_type else []}


def _usage(usage: ev.Usage) -> Json:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def _response_done(event: ev.ResponseDone) -> Json:
    response: Json = {
        "id": event.response_id,
        "object": "realtime.response",
        "status": event.status,
        "output": [item_json(item) for item in event.output],
        "usage": _usage(event.usage),
    }
    if event.status != "completed":
        details: Json = {"type": event.status}
        if event.reason:
            details["reason"] = event.reason
        if event.error is not None:
            details["error"] = {"type": event.error.error_type, "code": event.error.code}
        response["status_details"] = details
    return {"type": "response.done", "response": response}


def _part(content_type: str, text: str) -> Json:
    return {"type": content_type, "transcript" if content_type == "audio" else "text": text}


def _position(event: Any) -> Json:
    return {
        "response_id": event.response_id,
        "item_id": event.item_id,
        "output_index": event.output_index,
        "content_index": event.content_index,
    }


_STANDARD: dict[type, Callable[[Any], Json]] = {
    ev.SpeechStarted: lambda e: {
        "type": "input_audio_buffer.speech_started",
        "item_id": e.item_id,
        "audio_start_ms": e.audio_start_ms,
    },
    ev.SpeechStopped: lambda e: {
        "type": "input_audio_buffer.speech_stopped",
        "item_id": e.item_id,
        "audio_end_ms": e.audio_end_ms,
    },
    ev.InputCommitted: lambda e: {
        "type": "input_audio_buffer.committed",
        "item_id": e.item_id,
        "previous_item_id": e.previous_item_id,
    },
    ev.InputCleared: lambda e: {"type": "input_audio_buffer.cleared"},
    ev.InputTimeout: lambda e: {
        "type": "input_audio_buffer.timeout_triggered",
        "item_id": e.item_id,
        "audio_start_ms": e.audio_start_ms,
        "audio_end_ms": e.audio_end_ms,
    },
    ev.ItemAdded: lambda e: {
        "type": "conversation.item.added",
        "item": item_json(e.item),
        "previous_item_id": e.previous_item_id,
    },
    ev.ItemDone: lambda e: {
        "type": "conversation.item.done",
        "item": item_json(e.item),
        "previous_item_id": e.previous_item_id,
    },
    ev.ItemTruncated: lambda e: {
        "type": "conversation.item.truncated",
        "item_id": e.item_id,
        "content_index": e.content_index,
        "audio_end_ms": e.audio_end_ms,
    },
    ev.TranscriptionDelta: lambda e: {
        "type": "conversation.item.input_audio_transcription.delta",
        "item_id": e.item_id,
        "content_index": e.content_index,
        "delta": e.delta,
    },
    ev.TranscriptionCompleted: lambda e: {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": e.item_id,
        "content_index": e.content_index,
        "transcript": e.transcript,
        "usage": {"type": "duration", "seconds": round(e.audio_duration_s, 3)},
    },
    ev.TranscriptionFailed: lambda e: {
        "type": "conversation.item.input_audio_transcription.failed",
        "item_id": e.item_id,
        "content_index": e.content_index,
        "error": error_body(e.error),
    },
    ev.ResponseCreated: lambda e: {
        "type": "response.created",
        "response": {
            "id": e.response_id,
            "object": "realtime.response",
            "status": "in_progress",
            "output": [],
            "output_modalities": list(e.modalities),
        },
    },
    ev.OutputItemAdded: lambda e: {
        "type": "response.output_item.added",
        "response_id": e.response_id,
        "output_index": e.output_index,
        "item": item_json(e.item),
    },
    ev.OutputItemDone: lambda e: {
        "type": "response.output_item.done",
        "response_id": e.response_id,
        "output_index": e.output_index,
        "item": item_json(e.item),
    },
    ev.ContentPartAdded: lambda e: {
        "type": "response.content_part.added",
        **_position(e),
        "part": _part(e.content_type, ""),
    },
    ev.ContentPartDone: lambda e: {
        "type": "response.content_part.done",
        **_position(e),
        "part": _part(e.content_type, e.text),
    },
    ev.TextDelta: lambda e: {
        "type": "response.output_text.delta",
        **_position(e),
        "delta": e.delta,
    },
    ev.TextDone: lambda e: {"type": "response.output_text.done", **_position(e), "text": e.text},
    ev.AudioDelta: lambda e: {
        "type": "response.output_audio.delta",
        **_position(e),
        "delta": base64.b64encode(e.audio).decode("ascii"),
    },
    ev.AudioDone: lambda e: {"type": "response.output_audio.done", **_position(e)},
    ev.AudioTranscriptDelta: lambda e: {
        "type": "response.output_audio_transcript.delta",
        **_position(e),
        "delta": e.delta,
    },
    ev.AudioTranscriptDone: lambda e: {
        "type": "response.output_audio_transcript.done",
        **_position(e),
        "transcript": e.transcript,
    },
    ev.FunctionCallArgumentsDelta: lambda e: {
        "type": "response.function_call_arguments.delta",
        "response_id": e.response_id,
        "item_id": e.item_id,
        "output_index": e.output_index,
        "call_id": e.call_id,
        "delta": e.delta,
    },
    ev.FunctionCallArgumentsDone: lambda e: {
        "type": "response.function_call_arguments.done",
        "response_id": e.response_id,
        "item_id": e.item_id,
        "output_index": e.output_index,
        "call_id": e.call_id,
        "name": e.name,
        "arguments": e.arguments,
    },
    ev.ResponseDone: _response_done,
    # OpenAI's own event for "the server dropped the audio it had queued" (barge-in).
    ev.PlaybackFlush: lambda e: {
        "type": "output_audio_buffer.cleared",
        "response_id": e.response_id,
    },
    ev.SessionError: lambda e: error_event(e.error, event_id=e.event_id),
    ev.ItemDeleted: lambda e: {"type": "conversation.item.deleted", "item_id": e.item_id},
    ev.TransportNotice: lambda e: dict(e.payload),
}

_EXTENSIONS: dict[type, Callable[[Any], Json]] = {
    ev.RouteDecision: lambda e: {
        "type": "aura.route.decision",
        "stage": e.stage,
        "provider": e.provider,
        "model": e.model,
        "action": e.action,
        "reason": e.reason,
    },
    ev.TurnMetrics: lambda e: {
        "type": "aura.turn.metrics",
        "response_id": e.response_id,
        "item_id": e.user_item_id,
        "stt_ms": e.stt_ms,
        "llm_first_token_ms": e.llm_first_token_ms,
        "first_clause_ms": e.first_clause_ms,
        "tts_first_audio_ms": e.tts_first_audio_ms,
        "voice_to_voice_ms": e.voice_to_voice_ms,
        "input_tokens": e.input_tokens,
        "output_tokens": e.output_tokens,
        "audio_in_s": e.audio_in_s,
        "audio_out_s": e.audio_out_s,
        "llm_route": e.llm_route,
        "speculative": e.speculative,
        "status": e.status,
        "failed_stage": e.failed_stage,
        "error_code": e.error_code,
        "audio_quality": dict(e.audio_quality),
    },
    ev.ConversationEnded: lambda e: {"type": "aura.conversation.ended", "reason": e.reason},
    # The widget needs the heard position to cut its transcript on barge-in.
    ev.PlaybackFlush: lambda e: {
        "type": "aura.playback.flush",
        "response_id": e.response_id,
        "item_id": e.item_id,
        "audio_end_ms": e.audio_end_ms,
    },
}


def server_events(event: ev.SessionEvent, *, extensions: bool) -> list[Json]:
    """The wire events for one engine event (none for extension events of standard clients)."""
    produced = []
    standard = _STANDARD.get(type(event))
    if standard is not None:
        produced.append(standard(event))
    if extensions:
        extension = _EXTENSIONS.get(type(event))
        if extension is not None:
            produced.append(extension(event))
    return produced
