"""OpenAI's `session` object <-> the engine's `AgentConfig`.

`session.update` is validated here by hand rather than by the SDK's models: AURA accepts more
than OpenAI does (PCM at 8, 16, 24 or 48 kHz, the Silero VAD) and every refusal should name the
field at fault.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from voice.agent_config import (
    noise_reduction_from_json,
    transcription_language_from_json,
    transcription_prompt_from_json,
    turn_detection_from_json,
)
from voice.engine.config import (
    SUPPORTED_RATES_HZ,
    AgentConfig,
    AudioEncoding,
    AudioFormat,
    ToolSpec,
    TurnDetectionConfig,
)
from voice.engine.errors import InvalidRequestError

Json = dict[str, Any]

FORMAT_TYPES: dict[str, AudioEncoding] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "pcmu",
    "audio/pcma": "pcma",
}
WIRE_FORMAT_TYPES = {encoding: name for name, encoding in FORMAT_TYPES.items()}
SESSION_FIELDS = {
    "type",
    "model",
    "instructions",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "output_modalities",
    "include",
    "tracing",
    "truncation",
    "prompt",
    "parallel_tool_calls",
}
MAX_TOOLS = 64
MAX_INSTRUCTIONS_CHARS = 32_000


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


def _parse_format(value: Any, param: str) -> AudioFormat:
    # A client may send any JSON where a name is due: test the type before the membership
    # (a list or an object is not hashable, and a float rate is not a rate).
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("type"), str)
        or value["type"] not in FORMAT_TYPES
    ):
        raise InvalidRequestError(
            f"{param}.type must be one of {', '.join(FORMAT_TYPES)}", param=param
        )
    encoding = FORMAT_TYPES[value["type"]]
    if encoding != "pcm16":
        return AudioFormat(encoding=encoding, sample_rate_hz=8_000)  # G.711 is 8 kHz by definition
    rate = value.get("rate", 24_000)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in SUPPORTED_RATES_HZ:
        raise InvalidRequestError(
            f"{param}.rate must be one of {', '.join(map(str, SUPPORTED_RATES_HZ))}",
            param=f"{param}.rate",
        )
    return AudioFormat(encoding="pcm16", sample_rate_hz=rate)


def _parse_tools(value: Any) -> tuple[ToolSpec, ...]:
    if not isinstance(value, list) or len(value) > MAX_TOOLS:
        raise InvalidRequestError(
            f"session.tools must be a list of at most {MAX_TOOLS} tools", param="session.tools"
        )
    tools = []
    for index, tool in enumerate(value):
        param = f"session.tools[{index}]"
        if not isinstance(tool, Mapping) or tool.get("type", "function") != "function":
            raise InvalidRequestError(f"{param} must be a function tool", param=param)
        name, parameters = tool.get("name"), tool.get("parameters", {"type": "object"})
        if (
            not isinstance(name, str)
            or not name
            or len(name) > 64
            or not name.replace("_", "").replace("-", "").isalnum()
        ):
            raise InvalidRequestError(
                f"{param}.name must be 1-64 letters, digits, _ or -", param=f"{param}.name"
            )
        if not isinstance(parameters, Mapping):
            raise InvalidRequestError(
                f"{param}.parameters must be a JSON schema object", param=f"{param}.parameters"
            )
        description = tool.get("description", "")
        if not isinstance(description, str):
            raise InvalidRequestError(
                f"{param}.description must be a string", param=f"{param}.description"
            )
        tools.append(
            ToolSpec(name=name, description=description, parameters=dict(parameters), kind="client")
        )
    if len({tool.name for tool in tools}) != len(tools):
        raise InvalidRequestError(
            "session.tools has two tools with one name", param="session.tools"
        )
    return tuple(tools)


def _parse_tool_choice(value: Any) -> str:
    if value in ("auto", "none", "required"):
        return str(value)
    if (
        isinstance(value, Mapping)
        and value.get("type") == "function"
        and isinstance(value.get("name"), str)
    ):
        return f"function:{value['name']}"
    raise InvalidRequestError(
        "session.tool_choice must be auto, none, required or {type: function, name}",
        param="session.tool_choice",
    )


def _parse_max_output_tokens(value: Any) -> int | None:
    if value == "inf" or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise InvalidRequestError(
            "session.max_output_tokens must be 1-4096 or 'inf'", param="session.max_output_tokens"
        )
    return value


def apply_session_update(config: AgentConfig, session: Any) -> AgentConfig:
    """The config after a client's `session.update`; the old config is left untouched on error."""
    if not isinstance(session, Mapping):
        raise InvalidRequestError("session must be an object", param="session")
    unknown = set(session) - SESSION_FIELDS
    if unknown:
        raise InvalidRequestError(
            f"unknown session fields: {', '.join(sorted(unknown))}", param="session"
        )
    if session.get("type", "realtime") != "realtime":
        raise InvalidRequestError("only realtime sessions are served here", param="session.type")
    changes: Json = {}
    if "instructions" in session:
        instructions = session["instructions"]
        if not isinstance(instructions, str) or len(instructions) > MAX_INSTRUCTIONS_CHARS:
            raise InvalidRequestError(
                "session.instructions must be a string of at most "
                f"{MAX_INSTRUCTIONS_CHARS} characters",
                param="session.instructions",
            )
        changes["instructions"] = instructions
    if "output_modalities" in session:
        modalities = session["output_modalities"]
        if modalities not in (["audio"], ["text"]):
            raise InvalidRequestError(
                'session.output_modalities must be ["audio"] or ["text"]',
                param="session.output_modalities",
            )
        changes["output_modalities"] = tuple(modalities)
    if "tools" in session:
        server_tools = tuple(t for t in config.tools if t.kind == "server")
        changes["tools"] = server_tools + _parse_tools(session["tools"])
    if "tool_choice" in session:
        changes["tool_choice"] = _parse_tool_choice(session["tool_choice"])
    if "max_output_tokens" in session:
        changes["max_output_tokens"] = _parse_max_output_tokens(session["max_output_tokens"])
    changes |= _audio_changes(session.get("audio"))
    return dataclasses.replace(config, **changes)


def _audio_changes(audio: Any) -> Json:
    if audio is None:
        return {}
    if not isinstance(audio, Mapping):
        raise InvalidRequestError("session.audio must be an object", param="session.audio")
    changes: Json = {}
    audio_input, audio_output = audio.get("input") or {}, audio.get("output") or {}
    if not isinstance(audio_input, Mapping) or not isinstance(audio_output, Mapping):
        raise InvalidRequestError(
            "session.audio.input and .output must be objects", param="session.audio"
        )
    if "format" in audio_input:
        changes["input_format"] = _parse_format(audio_input["format"], "session.audio.input.format")
    if "turn_detection" in audio_input:
        changes["turn_detection"] = turn_detection_from_json(audio_input["turn_detection"])
    if "transcription" in audio_input:
        changes |= _transcription_changes(audio_input["transcription"])
    if "noise_reduction" in audio_input:
        changes["noise_reduction"] = noise_reduction_from_json(audio_input["noise_reduction"])
    if "format" in audio_output:
        changes["output_format"] = _parse_format(
            audio_output["format"], "session.audio.output.format"
        )
    if "voice" in audio_output:
        voice = audio_output["voice"]
        voice_name = voice.get("id") if isinstance(voice, Mapping) else voice
        if not isinstance(voice_name, str) or not 0 < len(voice_name) <= 100:
            raise InvalidRequestError(
                "session.audio.output.voice must be a voice name",
                param="session.audio.output.voice",
            )
        changes["voice"] = voice_name
    return changes


TRANSCRIPTION_FIELDS = {"model", "language", "prompt"}


def _transcription_changes(transcription: Any) -> Json:
    """`audio.input.transcription`: its prompt and language reach every STT route; the model
    is the agent's first STT route, so a client's `model` is accepted and not applied."""
    param = "session.audio.input.transcription"
    if transcription is None:
        return {"transcription_prompt": ""}
    if not isinstance(transcription, Mapping):
        raise InvalidRequestError(f"{param} must be an object or null", param=param)
    unknown = set(transcription) - TRANSCRIPTION_FIELDS
    if unknown:
        raise InvalidRequestError(
            f"unknown {param} fields: {', '.join(sorted(unknown))}", param=param
        )
    if "model" in transcription and not isinstance(transcription["model"], str):
        raise InvalidRequestError(f"{param}.model must be a string", param=f"{param}.model")
    changes: Json = {}
    if "prompt" in transcription:
        changes["transcription_prompt"] = transcription_prompt_from_json(
            transcription["prompt"], param=f"{param}.prompt"
        )
    if transcription.get("language") is not None:
        changes["language"] = transcription_language_from_json(
            transcription["language"], param=f"{param}.language"
        )
    return changes
