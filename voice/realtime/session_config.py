"""OpenAI's `session` object <-> the engine's `AgentConfig`.

What a client may send is declared by `SessionConfig` (voice/realtime/session_model.py);
applying it to the agent's config is done here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ValidationError

from voice.engine.config import AgentConfig, AudioFormat, ToolSpec, TurnDetectionConfig
from voice.realtime.session_model import (
    FORMAT_TYPES,
    AudioInput,
    AudioOutput,
    FunctionChoice,
    SessionConfig,
    Transcription,
    VoiceRef,
    session_refusal,
)

Json = dict[str, Any]

WIRE_FORMAT_TYPES = {encoding: name for name, encoding in FORMAT_TYPES.items()}


def _format_json(fmt: AudioFormat) -> Json:
    if fmt.encoding == "pcm16":
        return {"type": "audio/pcm", "rate": fmt.sample_rate_hz}
    return {"type": WIRE_FORMAT_TYPES[fmt.encoding]}


def _turn_detection_json(turn: TurnDetectionConfig | None) -> Json | None:
    if turn is None:
        return None
    return {
        "type": "server_vad",
        "threshold": turn.threshold,
        "prefix_padding_ms": turn.prefix_padding_ms,
        "silence_duration_ms": turn.silence_duration_ms,
        "create_response": turn.create_response,
        "interrupt_response": turn.interrupt_response,
        "idle_timeout_ms": turn.idle_timeout_ms,
    }


def session_json(config: AgentConfig, *, model: str) -> Json:
    """The session as `session.created` / `session.updated` report it."""
    return {
        "type": "realtime",
        "model": model,
        "instructions": config.instructions,
        "output_modalities": list(config.output_modalities),
        "max_output_tokens": config.max_output_tokens or "inf",
        "tool_choice": config.tool_choice,
        "tools": [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
            }
            for t in config.tools
            if t.kind == "client"
        ],
        "audio": {
            "input": {
                "format": _format_json(config.input_format),
                "turn_detection": _turn_detection_json(config.turn_detection),
                "transcription": {
                    "model": config.stt_routes[0].model,
                    "language": config.language,
                    "prompt": config.transcription_prompt,
                },
                "noise_reduction": (
                    {"type": config.noise_reduction} if config.noise_reduction else None
                ),
            },
            "output": {
                "format": _format_json(config.output_format),
                "voice": config.voice or "joe",
            },
        },
    }


def apply_session_update(config: AgentConfig, session: object) -> AgentConfig:
    """The config after a client's `session.update`; the old config is left untouched on error."""
    try:
        update = SessionConfig.model_validate(session)
    except ValidationError as error:
        raise session_refusal(error.errors()) from error
    changes: Json = {}
    if update.instructions is not None:
        changes["instructions"] = update.instructions
    if update.output_modalities is not None:
        changes["output_modalities"] = tuple(update.output_modalities)
    if update.tools is not None:
        server_tools = tuple(t for t in config.tools if t.kind == "server")
        changes["tools"] = server_tools + tuple(
            ToolSpec(
                name=tool.name,
                description=tool.description,
                parameters=tool.parameters,
                kind="client",
            )
            for tool in update.tools
        )
    if isinstance(update.tool_choice, FunctionChoice):
        changes["tool_choice"] = f"function:{update.tool_choice.name}"
    elif update.tool_choice is not None:
        changes["tool_choice"] = update.tool_choice
    if "max_output_tokens" in update.model_fields_set:
        limit = update.max_output_tokens
        changes["max_output_tokens"] = None if limit == "inf" else limit
    if update.audio is not None:
        changes |= _input_changes(update.audio.input) | _output_changes(update.audio.output)
    return dataclasses.replace(config, **changes)


def _input_changes(audio: AudioInput) -> Json:
    changes: Json = {}
    given = audio.model_fields_set
    if audio.format is not None:
        changes["input_format"] = audio.format.audio_format()
    if "turn_detection" in given:
        turn = audio.turn_detection
        changes["turn_detection"] = None if turn is None else turn.config()
    if "transcription" in given:
        changes |= _transcription_changes(audio.transcription)
    if "noise_reduction" in given:
        noise = audio.noise_reduction
        changes["noise_reduction"] = None if noise is None else noise.type
    return changes


def _output_changes(audio: AudioOutput) -> Json:
    changes: Json = {}
    if audio.format is not None:
        changes["output_format"] = audio.format.audio_format()
    if isinstance(audio.voice, VoiceRef):
        changes["voice"] = audio.voice.id
    elif audio.voice is not None:
        changes["voice"] = audio.voice
    return changes


def _transcription_changes(transcription: Transcription | None) -> Json:
    """Null: no transcription prompt; a language left out or null leaves it as it is."""
    if transcription is None:
        return {"transcription_prompt": ""}
    changes: Json = {}
    if "prompt" in transcription.model_fields_set:
        changes["transcription_prompt"] = transcription.prompt or ""
    if transcription.language is not None:
        changes["language"] = transcription.language
    return changes
