"""Turning stored agent settings (JSON) into the engine's frozen `AgentConfig`, with validation.

Used when an agent is saved (to refuse bad settings with a clear message) and when a session
starts (stored rows predate validation changes, so they are checked again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, cast, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from voice.config_json import STRICT_JSON, Location, first_fault, number_refusal, printable
from voice.engine.config import AgentConfig, RouteConfig, SpeculationMode, TurnDetectionConfig
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


_TURN_DEFAULTS = TurnDetectionConfig()


def _truth(value: object) -> bool:
    return bool(value)


class TurnDetectionJson(BaseModel):
    """OpenAI's `turn_detection` object (`server_vad`), with AURA's `vad` and
    `min_speech_duration_ms`. The numbers are JSON numbers (an int or a float, never a bool)."""

    model_config = STRICT_JSON | ConfigDict(extra="forbid")

    type: Literal["server_vad"] = "server_vad"
    vad: Literal["webrtc", "silero"] = _TURN_DEFAULTS.vad
    threshold: Annotated[float, Field(ge=0, le=1)] = _TURN_DEFAULTS.threshold
    prefix_padding_ms: Annotated[float, Field(ge=0, le=2000)] = _TURN_DEFAULTS.prefix_padding_ms
    silence_duration_ms: Annotated[float, Field(ge=100, le=5000)] = (
        _TURN_DEFAULTS.silence_duration_ms
    )
    min_speech_duration_ms: Annotated[float, Field(ge=0, le=2000)] = (
        _TURN_DEFAULTS.min_speech_duration_ms
    )
    # Read by their truth, whatever the JSON value (as they always were).
    create_response: Annotated[bool, BeforeValidator(_truth)] = True
    interrupt_response: Annotated[bool, BeforeValidator(_truth)] = True
    idle_timeout_ms: Annotated[float | None, Field(ge=1000, le=3_600_000)] = None

    def config(self) -> TurnDetectionConfig:
        return TurnDetectionConfig(
            vad=self.vad,
            threshold=float(self.threshold),
            prefix_padding_ms=int(self.prefix_padding_ms),
            silence_duration_ms=int(self.silence_duration_ms),
            min_speech_duration_ms=int(self.min_speech_duration_ms),
            create_response=self.create_response,
            interrupt_response=self.interrupt_response,
            idle_timeout_ms=None if self.idle_timeout_ms is None else int(self.idle_timeout_ms),
        )


def turn_detection_from_json(value: object) -> TurnDetectionConfig | None:
    """OpenAI's `turn_detection` object (`server_vad`), or None for manual commits."""
    if value is None:
        return None
    try:
        return TurnDetectionJson.model_validate(value).config()
    except ValidationError as error:
        fault = first_fault(error.errors())
        raise turn_detection_refusal(fault.where, fault.unknown) from error


def turn_detection_refusal(where: Location, unknown: list[str]) -> InvalidRequestError:
    """The refusal of a `turn_detection` object: its fault is `where` in it (`first_fault`)."""
    if unknown:
        return InvalidRequestError(
            f"unknown turn_detection fields: {', '.join(unknown)}", param="turn_detection"
        )
    if not where:
        return InvalidRequestError(
            "turn_detection must be an object or null", param="turn_detection"
        )
    name = str(where[0])
    match name:
        case "type":
            message = "turn_detection.type must be server_vad"
        case "vad":
            message = "turn_detection.vad must be webrtc or silero"
        case _:  # a number out of its range
            return number_refusal(TurnDetectionJson, name, label=f"turn_detection.{name}")
    return InvalidRequestError(message, param=f"turn_detection.{name}")


MAX_VOCABULARY_TERMS = 100
MAX_TERM_CHARS = 64


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
            or not printable(term)
        ):
            raise InvalidRequestError(
                f"each vocabulary term must be 1-{MAX_TERM_CHARS} printable characters",
                param="vocabulary",
            )
        terms.append(term.strip())
    return tuple(dict.fromkeys(terms))


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
