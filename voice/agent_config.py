"""Turning stored agent settings (JSON) into the engine's frozen `AgentConfig`, with validation.

Used when an agent is saved (to refuse bad settings with a clear message) and when a session
starts (stored rows predate validation changes, so they are checked again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from voice.config_json import STRICT_JSON, Fault, Location, first_fault, number_refusal, printable
from voice.engine.config import AgentConfig, RouteConfig, SpeculationMode, TurnDetectionConfig
from voice.engine.errors import InvalidRequestError
from voice.engine.pipeline.tools import builtin_specs

# Session fields that decide what the model is told and may do. Clients with a secret key or a
# client secret change them freely; a publishable-key (pk_) client only those the agent lists
# in `public_overrides`. What a client may always change is how audio flows and sounds.
PublicOverridable = Literal["instructions", "tools", "tool_choice", "max_output_tokens"]
PUBLIC_OVERRIDABLE: tuple[str, ...] = get_args(PublicOverridable)


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise PydanticCustomError("http_url", "not an http(s) URL")
    return url


class Route(BaseModel):
    """One stored route: a provider, a model and its limits (`RouteConfig`)."""

    model_config = STRICT_JSON | ConfigDict(extra="forbid")

    provider: str  # each stage's own (`SttRoute`, `LlmRoute`, `TtsRoute`)
    model: Annotated[str, Field(min_length=1, max_length=100)]
    base_url: Annotated[str, AfterValidator(_http_url)] | None = Field(
        default=None, validate_default=True
    )
    first_token_budget_ms: Annotated[float, Field(ge=50, le=60_000)] = 2_000
    timeout_s: Annotated[float, Field(ge=1, le=300)] = 30
    # Handed to the provider as stored.
    max_output_tokens: Any = None
    temperature: Any = None

    @field_validator("base_url")
    @classmethod
    def _base_url_needed(cls, base_url: str | None, info: ValidationInfo) -> str | None:
        if base_url is None and info.data.get("provider") == "openai_compatible":
            raise PydanticCustomError("base_url_needed", "a base_url is needed")
        return base_url

    def config(self) -> RouteConfig:
        return RouteConfig(
            provider=self.provider,
            model=self.model,
            base_url=self.base_url,
            first_token_budget_ms=int(self.first_token_budget_ms),
            timeout_s=float(self.timeout_s),
            max_output_tokens=self.max_output_tokens,
            temperature=self.temperature,
        )


class SttRoute(Route):
    provider: Literal["local", "openai", "openai_compatible"]


class LlmRoute(Route):
    provider: Literal["local", "openai", "grok", "openai_compatible"]


class TtsRoute(Route):
    provider: Literal["local", "openai", "openai_compatible"]


MAX_ROUTES = 5
ROUTE_MODELS: dict[str, type[Route]] = {"stt": SttRoute, "llm": LlmRoute, "tts": TtsRoute}
PROVIDERS = {
    stage: get_args(model.model_fields["provider"].annotation)
    for stage, model in ROUTE_MODELS.items()
}
RouteModel = TypeVar("RouteModel", bound=Route)
# A list of routes may be a tuple too (defaults in code); each route is strict JSON.
RouteList = Annotated[list[RouteModel], Field(min_length=1, max_length=MAX_ROUTES)]
_RouteLists = (
    TypeAdapter[list[SttRoute]] | TypeAdapter[list[LlmRoute]] | TypeAdapter[list[TtsRoute]]
)
_ROUTE_LISTS: dict[str, _RouteLists] = {
    "stt": TypeAdapter(RouteList[SttRoute]),
    "llm": TypeAdapter(RouteList[LlmRoute]),
    "tts": TypeAdapter(RouteList[TtsRoute]),
}


def routes_from_json(stage: str, routes: object) -> tuple[RouteConfig, ...]:
    try:
        parsed = _ROUTE_LISTS[stage].validate_python(routes)
    except ValidationError as error:
        raise _routes_refusal(stage, first_fault(error.errors())) from error
    return tuple(route.config() for route in parsed)


def _routes_refusal(stage: str, fault: Fault) -> InvalidRequestError:
    param = f"{stage}_routes"
    match fault.where:
        case () if fault.kind == "too_long":
            message = f"{param} may hold at most {MAX_ROUTES} routes"
        case ():
            message = f"{param} must be a non-empty list of routes"
        case (int(),) if fault.unknown:
            message = f"unknown route fields: {', '.join(fault.unknown)}"
        case (int(),):
            message = f"each of {param} must be an object"
        case (int(), "provider", *_):
            message = f"{stage} provider must be one of {', '.join(PROVIDERS[stage])}"
        case (int(), "model", *_):
            message = "each route needs a model name"
        case (int(), "base_url", *_) if fault.kind == "base_url_needed":
            message = "an openai_compatible route needs a base_url"
        case (int(), "base_url", *_):
            message = "base_url must be an http(s) URL"
        case (int(), str(name), *_):  # a number out of its range
            return number_refusal(Route, name, label=name)
        case _:
            message = f"{param} is not valid"
    return InvalidRequestError(message, param=param)


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


def _term(term: str) -> str:
    if not 0 < len(term.strip()) <= MAX_TERM_CHARS or not printable(term):
        raise PydanticCustomError("term", "not a term")
    return term.strip()


# Lists may be tuples too (defaults in code); their items are strict JSON.
_VOCABULARY = TypeAdapter(
    Annotated[
        list[Annotated[StrictStr, AfterValidator(_term)]], Field(max_length=MAX_VOCABULARY_TERMS)
    ]
    | None
)
_PUBLIC_OVERRIDES = TypeAdapter(list[PublicOverridable])
_SPECULATION = TypeAdapter(SpeculationMode)


def vocabulary_from_json(value: object) -> tuple[str, ...]:
    """An agent's terms (product and proper names): a list of short strings, duplicates dropped."""
    try:
        terms = _VOCABULARY.validate_python(value)
    except ValidationError as error:
        fault = first_fault(error.errors())
        if fault.kind == "too_long":
            message = f"vocabulary may hold at most {MAX_VOCABULARY_TERMS} terms"
        elif fault.where:
            message = f"each vocabulary term must be 1-{MAX_TERM_CHARS} printable characters"
        else:
            message = "vocabulary must be a list of terms"
        raise InvalidRequestError(message, param="vocabulary") from error
    return tuple(dict.fromkeys(terms or ()))


def public_overrides_from_json(value: object) -> tuple[str, ...]:
    """The session fields an agent lets publishable-key clients change, checked."""
    try:
        names = _PUBLIC_OVERRIDES.validate_python(value)
    except ValidationError as error:
        raise InvalidRequestError(
            f"public_overrides must be a list of: {', '.join(PUBLIC_OVERRIDABLE)}",
            param="public_overrides",
        ) from error
    return tuple(dict.fromkeys(names))


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


def speculation_from_json(value: object) -> SpeculationMode:
    try:
        mode: SpeculationMode = _SPECULATION.validate_python(value)
    except ValidationError as error:
        modes = ", ".join(get_args(SpeculationMode))
        raise InvalidRequestError(
            f"speculation must be one of {modes}", param="speculation"
        ) from error
    return mode
