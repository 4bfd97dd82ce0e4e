"""Responses on fake providers, outside a session: the services a `ResponseRun` and a
`Responder` need, and a reader of what they queued."""

from __future__ import annotations

from dataclasses import dataclass, field

from voice.engine.config import AgentConfig, ToolSpec
from voice.engine.events import SessionEvent
from voice.engine.llm.base import ChatMessage, LLMRequest
from voice.engine.pipeline.context import build_request
from voice.engine.pipeline.conversation import Conversation
from voice.engine.pipeline.event_queue import EventQueue
from voice.engine.pipeline.response_output import MessageOutput, OutputSettings
from voice.engine.pipeline.response_services import ResponseOptions, ResponseServices
from voice.engine.pipeline.tools import ToolRegistry
from voice.engine.ports import ToolExecutor
from voice.tests.engine.fakes import FakeClock, FakeTTS, ScriptedLLM


@dataclass
class ResponseKit:
    llm: ScriptedLLM
    tts: FakeTTS = field(default_factory=FakeTTS)
    clock: FakeClock = field(default_factory=FakeClock)
    conversation: Conversation = field(default_factory=Conversation)
    events: EventQueue = field(default_factory=lambda: EventQueue(10_000))
    tools: tuple[ToolSpec, ...] = ()
    executor: ToolExecutor | None = None
    # Far ahead of the play head: output never waits unless a test shortens it.
    playback_lead_ms: int = 60_000
    messages: list[MessageOutput] = field(default_factory=list)

    def services(self) -> ResponseServices:
        config = AgentConfig(tools=self.tools)

        async def request(
            messages: tuple[ChatMessage, ...], options: ResponseOptions
        ) -> LLMRequest:
            return build_request(config, messages, max_output_tokens=options.max_output_tokens)

        return ResponseServices(
            config=config,
            llm=self.llm,
            tts=self.tts,
            tools=ToolRegistry(self.tools, executor=self.executor),
            build_request=request,
            output=OutputSettings(
                output_format=config.output_format,
                frame_ms=config.output_frame_ms,
                playback_lead_ms=self.playback_lead_ms,
                conversation=self.conversation,
                events=self.events,
                clock=self.clock,
                on_message=self.messages.append,
            ),
        )

    def queued(self) -> list[SessionEvent]:
        """Every event queued so far (taken off the queue)."""
        taken = []
        while (event := self.events.pop_if(lambda _: True)) is not None:
            taken.append(event)
        return taken
