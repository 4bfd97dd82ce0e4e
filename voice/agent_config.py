"""Turning stored agent settings (JSON) into the engine's frozen `AgentConfig`, with validation.

Used when an agent is saved (to refuse bad settings with a clear message) and when a session
starts (stored rows predate validation changes, so they are checked again).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast, get_args

from voice.engine.config import (
    AgentConfig,
    NoiseReduction,
    RouteConfig,
    SpeculationMode,
    TurnDetectionConfig,
)
from voice.engine.errors import InvalidRequestError
from voice.engine.pipeline.tools import builtin_specs

PROVIDERS = {
    "stt": ("local", "openai", "openai_compatible"),
    "llm": ("local", "openai", "grok", "openai_compatible"),
    "tts": ("local", "openai", "openai_compatible"),
}
ROUTE_FIELDS = {"provider", "model", "base_url", "first_token_budget_ms", "timeout_s"} | {
    "max_output_tokens",
    "temperature",
}
# Session fields that decide what the model is told and may do. Clients with a secret key or a
# client secret change them freely; a publishable-key (pk_) client only those the agent lists
# in `public_overrides`. What a client may always change is how audio flows and sounds.
PUBLIC_OVERRIDABLE = ("instructions", "tools", "tool_choice", "max_output_tokens")
TURN_DETECTION_FIELDS = {
    "type",
    "vad",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "min_speech_duration_ms",
    "create_response",
    "interrupt_response",
    "idle_timeout_ms",
}


def _number(value: Any, name: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequestError(f"{name} must be a number from {low:g} to {high:g}", param=name)
    return float(value)


def routes_from_json(stage: str, routes: Any) -> tuple[RouteConfig, ...]:
    param = f"{stage}_routes"
    if not isinstance(routes, Sequence) or isinstance(routes, str) or not routes:
        raise InvalidRequestError(f"{param} must be a non-empty list of routes", param=param)
    if len(routes) > 5:
        raise InvalidRequestError(f"{param} may hold at most 5 routes", param=param)
    parsed = []
    for route in routes:
        if not isinstance(route, Mapping):
            raise InvalidRequestError(f"each of {param} must be an object", param=param)
        unknown = set(route) - ROUTE_FIELDS
        if unknown:
            raise InvalidRequestError(
                f"unknown route fields: {', '.join(sorted(unknown))}", param=param
            )
        provider, model = route.get("provider"), route.get("model")
        if provider not in PROVIDERS[stage]:
            raise InvalidRequestError(
                f"{stage} provider must be one of {', '.join(PROVIDERS[stage])}", param=param
            )
        if not isinstance(model, str) or not 0 < len(model) <= 100:
            raise InvalidRequestError("each route needs a model name", param=param)
        base_url = route.get("base_url")
        if base_url is not None and (
            not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))
        ):
            raise InvalidRequestError("base_url must be an http(s) URL", param=param)
        if provider == "openai_compatible" and base_url is None:
            raise InvalidRequestError("an openai_compatible route needs a base_url", param=param)
        parsed.append(
            RouteConfig(
                provider=provider,
                model=model,
                base_url=base_url,
                first_token_budget_ms=int(
                    _number(
                        route.get("first_token_budget_ms", 2000),
                        "first_token_budget_ms",
                        low=50,
                        high=60_000,
                    )
                ),
                timeout_s=_number(route.get("timeout_s", 30), "timeout_s", low=1, high=300),
                max_output_tokens=route.get("max_output_tokens"),
                temperature=route.get("temperature"),
            )
        )
    return tuple(parsed)


def turn_detection_from_json(value: Any) -> TurnDetectionConfig | None:
    """OpenAI's `turn_detection` object (`server_vad`), or None for manual commits."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequestError(
            "turn_detection must be an object or null", param="turn_detection"
        )
    unknown = set(value) - TURN_DETECTION_FIELDS
    if unknown:
        raise InvalidRequestError(
            f"unknown turn_detection fields: {', '.join(sorted(unknown))}", param="turn_detection"
        )
    if value.get("type", "server_vad") != "server_vad":
        raise InvalidRequestError(
            "turn_detection.type must be server_vad", param="turn_detection.type"
        )
    defaults = TurnDetectionConfig()
    vad = value.get("vad", defaults.vad)
    if vad not in ("webrtc", "silero"):
        raise InvalidRequestError(
            "turn_detection.vad must be webrtc or silero", param="turn_detection.vad"
        )
    idle = value.get("idle_timeout_ms")

    def ms(name: str, low: int, high: int) -> int:
        return int(
            _number(
                value.get(name, getattr(defaults, name)),
                f"turn_detection.{name}",
                low=low,
                high=high,
            )
        )

    return TurnDetectionConfig(
        vad=vad,
        threshold=_number(
            value.get("threshold", defaults.threshold), "turn_detection.threshold", low=0, high=1
        ),
        prefix_padding_ms=ms("prefix_padding_ms", 0, 2000),
        silence_duration_ms=ms("silence_duration_ms", 100, 5000),
        min_speech_duration_ms=ms("min_speech_duration_ms", 0, 2000),
        create_response=bool(value.get("create_response", True)),
        interrupt_response=bool(value.get("interrupt_response", True)),
        idle_timeout_ms=None
        if idle is None
        else int(_number(idle, "turn_detection.idle_timeout_ms", low=1000, high=3_600_000)),
    )


MAX_VOCABULARY_TERMS = 100
MAX_TERM_CHARS = 64
MAX_TRANSCRIPTION_PROMPT_CHARS = 1_000
NOISE_REDUCTION_TYPES: tuple[NoiseReduction, ...] = ("near_field", "far_field")
LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")


def _printable(text: str) -> bool:
    return all(character.isprintable() for character in text)


def vocabulary_from_json(value: Any) -> tuple[str, ...]:
    """An agent's terms (product and proper names): a list of short strings, duplicates dropped."""
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise InvalidRequestError("vocabulary must be a list of terms", param="vocabulary")
    if len(value) > MAX_VOCABULARY_TERMS:
        raise InvalidRequestError(
            f"vocabulary may hold at most {MAX_VOCABULARY_TERMS} terms", param="vocabulary"
        )
    terms = []
    for term in value:
        if (
            not isinstance(term, str)
            or not 0 < len(term.strip()) <= MAX_TERM_CHARS
            or not _printable(term)
        ):
            raise InvalidRequestError(
                f"each vocabulary term must be 1-{MAX_TERM_CHARS} printable characters",
                param="vocabulary",
            )
        terms.append(term.strip())
    return tuple(dict.fromkeys(terms))


def transcription_prompt_from_json(value: Any, *, param: str) -> str:
    if value is None:
        return ""
    if (
        not isinstance(value, str)
        or len(value) > MAX_TRANSCRIPTION_PROMPT_CHARS
        or not _printable(value.replace("\n", " "))
    ):
        raise InvalidRequestError(
            f"{param} must be text of at most {MAX_TRANSCRIPTION_PROMPT_CHARS} characters",
            param=param,
        )
    return value.strip()


def transcription_language_from_json(value: Any, *, param: str) -> str:
    if not isinstance(value, str) or not LANGUAGE_CODE.match(value):
        raise InvalidRequestError(
            f"{param} must be a language code such as en or en-US", param=param
        )
    return value


def noise_reduction_from_json(value: Any) -> NoiseReduction | None:
    """OpenAI's `noise_reduction` object (`{"type": "near_field"}`), or None for off."""
    param = "session.audio.input.noise_reduction"
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, Mapping) else None
    if not set(value if isinstance(value, Mapping) else ()) - {"type"}:
        for known in NOISE_REDUCTION_TYPES:
            if kind == known:
                return known
    raise InvalidRequestError(
        f"{param} must be null or {{type: {' | '.join(NOISE_REDUCTION_TYPES)}}}", param=param
    )


def public_overrides_from_json(value: Any) -> tuple[str, ...]:
    """The session fields an agent lets publishable-key clients change, checked."""
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or any(name not in PUBLIC_OVERRIDABLE for name in value)
    ):
        raise InvalidRequestError(
            f"public_overrides must be a list of: {', '.join(PUBLIC_OVERRIDABLE)}",
            param="public_overrides",
        )
    return tuple(dict.fromkeys(value))


def agent_config_from_settings(
    *,
    instructions: str,
    voice: str,
    language: str,
    stt_routes: Any,
    llm_routes: Any,
    tts_routes: Any,
    turn_detection: Any,
    max_output_tokens: int | None,
    builtin_tools: Any = (),
    vocabulary: Any = (),
    speculation: str = "auto",
) -> AgentConfig:
    if not isinstance(builtin_tools, Sequence) or isinstance(builtin_tools, str):
        raise InvalidRequestError("builtin_tools must be a list of names", param="builtin_tools")
    return AgentConfig(
        instructions=instructions,
        voice=voice or None,
        language=language,
        stt_routes=routes_from_json("stt", stt_routes),
        llm_routes=routes_from_json("llm", llm_routes),
        tts_routes=routes_from_json("tts", tts_routes),
        turn_detection=turn_detection_from_json(turn_detection),
        max_output_tokens=max_output_tokens,
        tools=builtin_specs(builtin_tools),
        vocabulary=vocabulary_from_json(vocabulary),
        speculation=speculation_from_json(speculation),
    )


def speculation_from_json(value: Any) -> SpeculationMode:
    if value not in get_args(SpeculationMode):
        modes = ", ".join(get_args(SpeculationMode))
        raise InvalidRequestError(f"speculation must be one of {modes}", param="speculation")
    return cast(SpeculationMode, value)
