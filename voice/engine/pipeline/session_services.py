"""The providers and settings a session's turns and responses use, rebuilt on `session.update`.

Given providers are used as they are; a missing one is a router over the config's routes that
reports its decisions (`on_decision`) and meters its usage. Every response gets the same
`ResponseServices`, whose output tells the echo guard what the client's speaker plays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voice.engine import routing as router
from voice.engine.audio.echo_reference import EchoReference
from voice.engine.config import AgentConfig
from voice.engine.llm.base import ChatMessage, LLMRequest
from voice.engine.observability.usage import UsageMeter
from voice.engine.pipeline.context import build_request
from voice.engine.pipeline.conversation import Conversation
from voice.engine.pipeline.event_queue import EventQueue
from voice.engine.pipeline.playback import DEFAULT_LEAD_MS
from voice.engine.pipeline.response_output import MessageOutput, OutputSettings
from voice.engine.pipeline.response_services import (
    ResponseOptions,
    ResponseServices,
    StreamingModel,
    Synthesizer,
)
from voice.engine.pipeline.tools import ToolRegistry
from voice.engine.pipeline.user_turn import Transcriber
from voice.engine.ports import AudioSampler, Clock, MemorySource
from voice.engine.routing import LLMRouter, STTRouter, TTSRouter


@dataclass(frozen=True, slots=True)
class GivenProviders:
    """Providers the caller chose; None: a router over the config's routes."""

    stt: Transcriber | None = None
    llm: StreamingModel | None = None
    tts: Synthesizer | None = None


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """What the session's services share with the session for its whole life."""

    conversation: Conversation
    events: EventQueue
    clock: Clock
    usage: UsageMeter
    tools: ToolRegistry
    echo_reference: EchoReference
    on_decision: Callable[[router.RouteDecision], None]
    memory: MemorySource | None = None
    playback_lead_ms: int = DEFAULT_LEAD_MS
    sampler: AudioSampler | None = None


class SessionServices:
    """The session's providers for its current configuration."""

    def __init__(self, config: AgentConfig, given: GivenProviders, context: ServiceContext) -> None:
        self._given = given
        self._context = context
        self.config = config
        self.stt, self.llm, self.tts = self._providers(config)

    def reconfigure(self, config: AgentConfig) -> None:
        """Apply `session.update`: new routers (unless given) and the new tool specs."""
        self.stt, self.llm, self.tts = self._providers(config)
        self.config = config
        self._context.tools.replace_specs(config.tools)

    def for_response(self) -> ResponseServices:
        """What the next response uses (read when it is created)."""
        context = self._context
        return ResponseServices(
            config=self.config,
            llm=self.llm,
            tts=self.tts,
            tools=context.tools,
            build_request=self._build_request,
            output=OutputSettings(
                output_format=self.config.output_format,
                frame_ms=self.config.output_frame_ms,
                playback_lead_ms=context.playback_lead_ms,
                conversation=context.conversation,
                events=context.events,
                clock=context.clock,
                on_message=self._message_started,
                sampler=context.sampler,
            ),
        )

    def _message_started(self, message: MessageOutput) -> None:
        self._context.echo_reference.playing(message.played, message.playback.heard_ms)

    async def _build_request(
        self, messages: tuple[ChatMessage, ...], options: ResponseOptions
    ) -> LLMRequest:
        memory = self._context.memory
        summary = await memory.summary() if memory is not None else None
        return build_request(
            self.config,
            messages,
            summary=summary,
            instructions=options.instructions,
            max_output_tokens=options.max_output_tokens,
            tool_choice=options.tool_choice,
        )

    def _providers(self, config: AgentConfig) -> tuple[Transcriber, StreamingModel, Synthesizer]:
        """The given providers, else routers over the config's routes reporting decisions."""
        given, context = self._given, self._context
        decided, meter, clock = context.on_decision, context.usage, context.clock
        return (
            given.stt
            or STTRouter(config.stt_routes, clock=clock, on_decision=decided, meter=meter),
            given.llm
            or LLMRouter(config.llm_routes, clock=clock, on_decision=decided, meter=meter),
            given.tts
            or TTSRouter(config.tts_routes, clock=clock, on_decision=decided, meter=meter),
        )
