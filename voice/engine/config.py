"""Frozen configuration objects the engine is built from.

The Django side loads an agent from the tenant's schema and turns it into these; the engine
never sees a model instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

# VAD and Whisper both work on 16 kHz mono; input audio is resampled to this once, on arrival.
PIPELINE_RATE_HZ = 16_000
SUPPORTED_RATES_HZ = (8_000, 16_000, 24_000, 48_000)

AudioEncoding = Literal["pcm16", "pcmu", "pcma"]
# OpenAI's `audio.input.noise_reduction.type`; None: the input is used as it comes.
NoiseReduction = Literal["near_field", "far_field"]
# Which key a cloud route without one of its own uses (see `RouteConfig.key_fallback`).
KeyFallback = Literal["platform", "none", "unreadable"]
# How eagerly a turn's transcript and answer are guessed before its end
# (voice.engine.pipeline.speculation).
SpeculationMode = Literal["auto", "eager", "phrases", "thrifty", "off"]
SPECULATION_MODES: tuple[SpeculationMode, ...] = get_args(SpeculationMode)


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Wire format of audio exchanged with a client: always mono."""

    encoding: AudioEncoding = "pcm16"
    sample_rate_hz: int = 24_000

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.encoding == "pcm16" else 1


@dataclass(frozen=True, slots=True)
class TurnDetectionConfig:
    """Server-side voice activity detection, after OpenAI's `server_vad`."""

    vad: Literal["webrtc", "silero"] = "webrtc"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    # Shorter bursts (clicks, coughs) neither start a turn nor interrupt the assistant.
    min_speech_duration_ms: int = 200
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None


@dataclass(frozen=True, slots=True)
class RouteConfig:
    """One way to reach a model: a provider, a model name and its limits."""

    provider: str
    model: str
    base_url: str | None = None
    # None: the endpoint is the operator's own. For a base_url an organization chose, the
    # hosts it may reach besides public addresses (voice.engine.net.addresses).
    public_only: tuple[str, ...] | None = None
    api_key: str | None = field(default=None, repr=False)
    # When `api_key` is None: "platform" lets the route use the operator's key
    # (OPENAI_API_KEY, XAI_API_KEY), and only towards the operator's own endpoint, never a
    # route's base_url; "none": no key, so an openai or grok route is unusable; "unreadable":
    # the organization's stored key could not be decrypted, so the route is unusable rather
    # than quietly sent with the operator's key. The Django side decides (voice.selectors).
    key_fallback: KeyFallback = "platform"
    # Past this budget without a first token the router hedges with the next route.
    first_token_budget_ms: int = 2_000
    timeout_s: float = 30.0
    max_output_tokens: int | None = None
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call, described by a JSON schema."""

    name: str
    description: str
    parameters: dict[str, object]
    # "server": executed by the engine's tool port; "client": forwarded to the client.
    kind: Literal["server", "client"] = "server"
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything one voice session needs to know about the agent it runs."""

    instructions: str = "You are a helpful, concise voice assistant."
    voice: str | None = None
    language: str = "en"
    input_format: AudioFormat = AudioFormat()
    output_format: AudioFormat = AudioFormat()
    turn_detection: TurnDetectionConfig | None = TurnDetectionConfig()
    stt_routes: tuple[RouteConfig, ...] = (RouteConfig(provider="local", model="tiny.en"),)
    llm_routes: tuple[RouteConfig, ...] = (RouteConfig(provider="local", model="gemma3-270m"),)
    tts_routes: tuple[RouteConfig, ...] = (RouteConfig(provider="local", model="en_US-joe-medium"),)
    tools: tuple[ToolSpec, ...] = ()
    # "auto", "none", "required" or "function:<name>".
    tool_choice: str = "auto"
    output_modalities: tuple[Literal["audio", "text"], ...] = ("audio",)
    max_output_tokens: int | None = None
    output_frame_ms: int = 20
    # History beyond this many tokens is replaced by the memory port's summary.
    context_token_budget: int = 1_500
    # A barge-in with no words transcribed within this window is "false": the answer resumes.
    false_barge_in_window_ms: int = 1_200
    # The agent's own words (product and proper names) and the session's transcription prompt
    # (`audio.input.transcription.prompt`): every STT route is told them.
    vocabulary: tuple[str, ...] = ()
    transcription_prompt: str = ""
    # Noise suppression and gain before VAD and STT (`audio.input.noise_reduction`).
    noise_reduction: NoiseReduction | None = None
    # Input that is the client's speaker playing the answer back (echo) is not speech: it
    # neither starts a turn nor interrupts the answer (voice.engine.audio.echo).
    echo_guard: bool = True
    # Guessing the transcript and answer during the end-of-turn silence: latency against
    # provider requests ("auto": eager with a local STT, thrifty with a remote one).
    speculation: SpeculationMode = "auto"
