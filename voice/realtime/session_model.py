"""The `session` object a client sends (`session.update`, a client secret's defaults), as a model.

AURA accepts more than the SDK's model of it (PCM at 8, 16, 24 or 48 kHz, the Silero VAD), and
each refusal names the field at fault: `session_refusal` turns pydantic's errors into it.
A field left out is None; where null means something (turn detection off, no transcription
prompt, no token limit), whether it was sent is read from `model_fields_set`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import ErrorDetails, PydanticCustomError

from voice.agent_config import TurnDetectionJson, turn_detection_refusal
from voice.config_json import STRICT_JSON, first_fault, printable
from voice.engine.config import SUPPORTED_RATES_HZ, AudioEncoding, AudioFormat, NoiseReduction
from voice.engine.errors import InvalidRequestError

MAX_TOOLS = 64
MAX_TOOL_NAME_CHARS = 64
MAX_INSTRUCTIONS_CHARS = 32_000
MAX_VOICE_NAME_CHARS = 100
MAX_TRANSCRIPTION_PROMPT_CHARS = 1_000
LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")
FORMAT_TYPES: dict[str, AudioEncoding] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "pcmu",
    "audio/pcma": "pcma",
}
NOISE_REDUCTION_TYPES: tuple[NoiseReduction, ...] = ("near_field", "far_field")

T = TypeVar("T")


def _given(value: object) -> object:
    if value is None:
        raise PydanticCustomError("null", "may be left out but not null")
    return value


# A field that may be left out (None: unchanged) but not sent as null.
Omittable = Annotated[T | None, BeforeValidator(_given)]


# --- audio formats ------------------------------------------------------------------------


def _supported_rate(rate: int) -> int:
    if rate not in SUPPORTED_RATES_HZ:
        raise PydanticCustomError("rate", "not a supported sample rate")
    return rate


class PcmFormat(BaseModel):
    model_config = STRICT_JSON

    type: Literal["audio/pcm"]
    rate: Annotated[int, AfterValidator(_supported_rate)] = 24_000

    def audio_format(self) -> AudioFormat:
        return AudioFormat(encoding="pcm16", sample_rate_hz=self.rate)


class G711Format(BaseModel):
    model_config = STRICT_JSON

    type: Literal["audio/pcmu", "audio/pcma"]

    def audio_format(self) -> AudioFormat:
        # G.711 is 8 kHz by definition.
        return AudioFormat(encoding=FORMAT_TYPES[self.type], sample_rate_hz=8_000)


WireFormat = Annotated[PcmFormat | G711Format, Field(discriminator="type")]


# --- tools --------------------------------------------------------------------------------


def _tool_name(name: str) -> str:
    # Letters and digits of any script (as `str.isalnum` counts them), `_` and `-`.
    if not name.replace("_", "").replace("-", "").isalnum():
        raise PydanticCustomError("tool_name", "not a tool name")
    return name


def _object_schema() -> dict[str, object]:
    return {"type": "object"}


class ClientTool(BaseModel):
    """A function the client runs when the model calls it. Its parameters are any JSON object:
    the schema is the client's, and its arguments are checked by the client."""

    model_config = STRICT_JSON

    type: Literal["function"] = "function"
    name: Annotated[str, Field(max_length=MAX_TOOL_NAME_CHARS), AfterValidator(_tool_name)]
    parameters: dict[str, object] = Field(default_factory=_object_schema)
    description: str = ""


def _distinct_names(tools: list[ClientTool]) -> list[ClientTool]:
    if len({tool.name for tool in tools}) != len(tools):
        raise PydanticCustomError("duplicate_tool_names", "two tools with one name")
    return tools


class FunctionChoice(BaseModel):
    model_config = STRICT_JSON

    type: Literal["function"]
    name: str


# --- audio --------------------------------------------------------------------------------


def _transcription_prompt(text: str) -> str:
    if not printable(text.replace("\n", " ")):
        raise PydanticCustomError("unprintable", "not printable text")
    return text.strip()


def _language_code(code: str) -> str:
    if not LANGUAGE_CODE.match(code):
        raise PydanticCustomError("language_code", "not a language code")
    return code


class Transcription(BaseModel):
    """`audio.input.transcription`: its prompt and language reach every STT route; the model
    is the agent's first STT route, so a client's `model` is accepted and not applied."""

    model_config = STRICT_JSON | ConfigDict(extra="forbid")

    model: Omittable[str] = None
    # Null: no prompt.
    prompt: (
        Annotated[
            str,
            Field(max_length=MAX_TRANSCRIPTION_PROMPT_CHARS),
            AfterValidator(_transcription_prompt),
        ]
        | None
    ) = None
    # Null: unchanged.
    language: Annotated[str, AfterValidator(_language_code)] | None = None


class NoiseReductionJson(BaseModel):
    model_config = STRICT_JSON | ConfigDict(extra="forbid")

    type: NoiseReduction


VoiceName = Annotated[str, Field(min_length=1, max_length=MAX_VOICE_NAME_CHARS)]


class VoiceRef(BaseModel):
    model_config = STRICT_JSON

    id: VoiceName


class AudioInput(BaseModel):
    model_config = STRICT_JSON

    format: Omittable[WireFormat] = None
    # Null: no turn detection (the client commits its audio).
    turn_detection: TurnDetectionJson | None = None
    # Null: no transcription prompt.
    transcription: Transcription | None = None
    # Null: the input is used as it comes.
    noise_reduction: NoiseReductionJson | None = None


class AudioOutput(BaseModel):
    model_config = STRICT_JSON

    format: Omittable[WireFormat] = None
    voice: Omittable[VoiceName | VoiceRef] = None


def _empty_if_falsy(value: object) -> object:
    # Null, false, 0, "" and [] have always been read as an empty object here.
    return value or {}


class Audio(BaseModel):
    model_config = STRICT_JSON

    input: Annotated[AudioInput, BeforeValidator(_empty_if_falsy)] = AudioInput()
    output: Annotated[AudioOutput, BeforeValidator(_empty_if_falsy)] = AudioOutput()


# --- the session --------------------------------------------------------------------------


class SessionConfig(BaseModel):
    """What a client may set of its session; fields are declared in the order they are
    checked, which decides the fault reported when there are several."""

    model_config = STRICT_JSON | ConfigDict(extra="forbid")

    type: Literal["realtime"] = "realtime"
    instructions: Omittable[Annotated[str, Field(max_length=MAX_INSTRUCTIONS_CHARS)]] = None
    output_modalities: Omittable[
        Annotated[list[Literal["audio", "text"]], Field(min_length=1, max_length=1)]
    ] = None
    tools: Omittable[
        Annotated[list[ClientTool], Field(max_length=MAX_TOOLS), AfterValidator(_distinct_names)]
    ] = None
    tool_choice: Omittable[Literal["auto", "none", "required"] | FunctionChoice] = None
    # Null and "inf": no limit of the session's own.
    max_output_tokens: Annotated[int, Field(ge=1, le=4096)] | Literal["inf"] | None = None
    audio: Audio | None = None
    # OpenAI's, accepted and not applied.
    model: object = None
    include: object = None
    tracing: object = None
    truncation: object = None
    prompt: object = None
    parallel_tool_calls: object = None


def session_refusal(errors: list[ErrorDetails]) -> InvalidRequestError:
    """The refusal of a session object that failed `SessionConfig` (`errors` in pydantic's
    order): the first fault, as the session's documented error names it."""
    fault = first_fault(_audio_objects_first(errors))
    where, unknown = fault.where, fault.unknown
    transcription = "session.audio.input.transcription"
    match where:
        case ("audio", "input", "turn_detection", *inside):
            return turn_detection_refusal(tuple(inside), unknown)
        case () if unknown:
            return _refusal(f"unknown session fields: {', '.join(unknown)}", "session")
        case ():
            return _refusal("session must be an object", "session")
        case ("type", *_):
            return _refusal("only realtime sessions are served here", "session.type")
        case ("instructions", *_):
            return _refusal(
                f"session.instructions must be a string of at most {MAX_INSTRUCTIONS_CHARS} "
                "characters",
                "session.instructions",
            )
        case ("output_modalities", *_):
            return _refusal(
                'session.output_modalities must be ["audio"] or ["text"]',
                "session.output_modalities",
            )
        case ("tools",) if fault.kind == "duplicate_tool_names":
            return _refusal("session.tools has two tools with one name", "session.tools")
        case ("tools",):
            return _refusal(
                f"session.tools must be a list of at most {MAX_TOOLS} tools", "session.tools"
            )
        case ("tools", int(index)) | ("tools", int(index), "type", *_):
            return _refusal(
                f"session.tools[{index}] must be a function tool", f"session.tools[{index}]"
            )
        case ("tools", int(index), str(field), *_):
            return _tool_refusal(f"session.tools[{index}]", field)
        case ("tool_choice", *_):
            return _refusal(
                "session.tool_choice must be auto, none, required or {type: function, name}",
                "session.tool_choice",
            )
        case ("max_output_tokens", *_):
            return _refusal(
                "session.max_output_tokens must be 1-4096 or 'inf'", "session.max_output_tokens"
            )
        case ("audio",):
            return _refusal("session.audio must be an object", "session.audio")
        case ("audio", _):
            return _refusal("session.audio.input and .output must be objects", "session.audio")
        case ("audio", str(side), "format", *inside):
            return _format_refusal(f"session.audio.{side}.format", rate="rate" in inside)
        case ("audio", "input", "transcription") if unknown:
            return _refusal(f"unknown {transcription} fields: {', '.join(unknown)}", transcription)
        case ("audio", "input", "transcription"):
            return _refusal(f"{transcription} must be an object or null", transcription)
        case ("audio", "input", "transcription", "model", *_):
            return _refusal(f"{transcription}.model must be a string", f"{transcription}.model")
        case ("audio", "input", "transcription", "prompt", *_):
            return _refusal(
                f"{transcription}.prompt must be text of at most "
                f"{MAX_TRANSCRIPTION_PROMPT_CHARS} characters",
                f"{transcription}.prompt",
            )
        case ("audio", "input", "transcription", "language", *_):
            return _refusal(
                f"{transcription}.language must be a language code such as en or en-US",
                f"{transcription}.language",
            )
        case ("audio", "input", "noise_reduction", *_):
            param = "session.audio.input.noise_reduction"
            return _refusal(
                f"{param} must be null or {{type: {' | '.join(NOISE_REDUCTION_TYPES)}}}", param
            )
        case ("audio", "output", "voice", *_):
            return _refusal(
                "session.audio.output.voice must be a voice name", "session.audio.output.voice"
            )
    # Every field of the model is named above: this is a guard, not a refusal clients see.
    param = "session." + ".".join(str(part) for part in where)
    return _refusal(f"{param} is not valid", param)


def _audio_objects_first(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """`audio.input` and `audio.output` are both checked to be objects before either's fields."""
    objects = [
        error for error in errors if error["loc"] in (("audio", "input"), ("audio", "output"))
    ]
    if objects and errors[0]["loc"][:1] == ("audio",):
        return [*objects, *errors]
    return errors


def _tool_refusal(param: str, field: str) -> InvalidRequestError:
    requirement = {
        "name": f"1-{MAX_TOOL_NAME_CHARS} letters, digits, _ or -",
        "parameters": "a JSON schema object",
        "description": "a string",
    }[field]
    return _refusal(f"{param}.{field} must be {requirement}", f"{param}.{field}")


def _format_refusal(param: str, *, rate: bool) -> InvalidRequestError:
    if rate:
        rates = ", ".join(map(str, SUPPORTED_RATES_HZ))
        return _refusal(f"{param}.rate must be one of {rates}", f"{param}.rate")
    return _refusal(f"{param}.type must be one of {', '.join(FORMAT_TYPES)}", param)


def _refusal(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)
