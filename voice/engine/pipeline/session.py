"""`VoiceSession`: the one object a transport (WebSocket consumer, CLI, benchmark) drives.

Audio goes in through `append_audio`; typed events (`voice.engine.events`) come out of
`events()`. In between: input decoding and turn detection (`turns.UserTurns`), speculative
transcription and answering during the end-of-turn silence, responses (`response.ResponseRun`)
paced against the client's playback, barge-in with truncation to what was heard, and resuming
an answer after a false barge-in. Semantics follow the OpenAI Realtime API.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from types import TracebackType

from voice.engine import routing as router
from voice.engine.audio.echo_reference import EchoReference
from voice.engine.audio.wire import wire_duration_ms
from voice.engine.config import AgentConfig, TurnDetectionConfig
from voice.engine.errors import InvalidRequestError
from voice.engine.events import (
    AudioDelta,
    InputCleared,
    Item,
    ItemAdded,
    ItemDeleted,
    ItemDone,
    ItemTruncated,
    RouteDecision,
    SessionEvent,
    TransportNotice,
)
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.observability.usage import UsageMeter, UsageRecord
from voice.engine.pipeline.conversation import Conversation, entry_from_item
from voice.engine.pipeline.event_queue import DEFAULT_MAX_EVENTS, EventQueue, QueueClosed
from voice.engine.pipeline.playback import DEFAULT_LEAD_MS
from voice.engine.pipeline.responder import Responder, ResponderPorts
from voice.engine.pipeline.response_output import truncate_to_heard
from voice.engine.pipeline.response_services import ResponseOptions, StreamingModel, Synthesizer
from voice.engine.pipeline.session_services import GivenProviders, ServiceContext, SessionServices
from voice.engine.pipeline.task_set import TaskSet
from voice.engine.pipeline.tools import ToolRegistry
from voice.engine.pipeline.turn_handler import TurnHandler, TurnPorts
from voice.engine.pipeline.turns import UserTurns
from voice.engine.pipeline.user_turn import Transcriber
from voice.engine.ports import (
    AudioSampler,
    Clock,
    MemorySource,
    MetricsSink,
    MonotonicClock,
    ResponseGate,
    TranscriptSink,
)
from voice.engine.vad.base import VoiceActivityDetector
from voice.engine.vad.factory import make_vad

logger = logging.getLogger(__name__)


class VoiceSession:
    """A realtime voice conversation with one agent.

    Use as `async with VoiceSession(...) as session:`; leaving the block cancels every task the
    session started. Control methods raise `InvalidRequestError` for requests that cannot be
    honoured; failures while responding are reported as `SessionError` events instead.
    """

    def __init__(
        self,
        config: AgentConfig,
        *,
        tools: ToolRegistry,
        stt: Transcriber | None = None,
        llm: StreamingModel | None = None,
        tts: Synthesizer | None = None,
        memory: MemorySource | None = None,
        transcript_sink: TranscriptSink | None = None,
        metrics: MetricsSink | None = None,
        clock: Clock | None = None,
        playback_lead_ms: int = DEFAULT_LEAD_MS,
        max_events: int = DEFAULT_MAX_EVENTS,
        response_gate: ResponseGate | None = None,
        audio_sampler: AudioSampler | None = None,
        client_cancels_echo: bool = False,
        vad_factory: Callable[[TurnDetectionConfig], VoiceActivityDetector] = make_vad,
    ) -> None:
        """Build a session; nothing runs until it is entered.

        Args:
            config: the agent.
            tools: the tools the model may call.
            stt: speech-to-text; default: an `STTRouter` over `config.stt_routes`.
            llm: language model; default: an `LLMRouter` over `config.llm_routes`.
            tts: text-to-speech; default: a `TTSRouter` over `config.tts_routes`.
                The default routers report their decisions as `RouteDecision` events.
            memory: source of the summary of what came before the kept history.
            transcript_sink: told the messages of each finished turn.
            metrics: told each turn's latencies.
            clock: the monotonic clock every latency is measured on.
            playback_lead_ms: how far output may run ahead of the client's playback.
            max_events: events buffered for a slow transport before producers wait.
            response_gate: admits the responses turn detection starts by itself (rate
                limits); a refused one is not started and is reported as a `SessionError`.
            audio_sampler: takes a sampled share of user turns and spoken answers for
                quality scoring (DNSMOS); none by default.
            client_cancels_echo: the client's capture cancels echo (the echo guard starts
                believing it; see voice.engine.audio.echo).
            vad_factory: builds the voice-activity detector of the turn detection.
        """
        self.config = config
        self.conversation = Conversation()
        self._clock = clock or MonotonicClock()
        # Usage of the default routers and of the audio; the transport drains what a turn's
        # report did not take (see `Responder`) when the session ends.
        self.usage = UsageMeter()
        self._events = EventQueue(max_events)
        self._tasks = TaskSet("voice-session")
        # What the client's speaker plays, for the input's echo guard.
        self._echo_reference = EchoReference(client_cancels_echo=client_cancels_echo)
        self._tools = tools
        self._services = SessionServices(
            config,
            GivenProviders(stt, llm, tts),
            ServiceContext(
                conversation=self.conversation,
                events=self._events,
                clock=self._clock,
                usage=self.usage,
                tools=tools,
                echo_reference=self._echo_reference,
                on_decision=self.on_route_decision,
                memory=memory,
                playback_lead_ms=playback_lead_ms,
                sampler=audio_sampler,
            ),
        )
        self._turns = UserTurns(
            config,
            self._clock,
            self._services.stt,
            self._echo_reference,
            busy=lambda: self._responder.active is not None,
            vad_factory=vad_factory,
        )
        self._responder = Responder(
            ResponderPorts(
                conversation=self.conversation,
                events=self._events,
                tasks=self._tasks,
                clock=self._clock,
                services=self._services.for_response,
                metrics=metrics,
                transcript_sink=transcript_sink,
                usage=self.usage,
            )
        )
        self._turn_handler = TurnHandler(
            TurnPorts(
                turns=self._turns,
                responder=self._responder,
                conversation=self.conversation,
                events=self._events,
                tasks=self._tasks,
                config=lambda: self.config,
                response_gate=response_gate,
                audio_sampler=audio_sampler,
            )
        )
        self._response_pending = False
        self._entered = False

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> VoiceSession:
        self._entered = True
        self._tasks.spawn(self._turn_handler.run(), name="input")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel everything the session started; `events()` ends after the queued events."""
        await self._tasks.close()
        self._events.close()

    async def events(self, *, merge_audio_up_to_ms: int = 0) -> AsyncIterator[SessionEvent]:
        """The session's events, in order, until it is closed.

        With `merge_audio_up_to_ms`, audio frames of one item that are already waiting (the
        transport fell behind) come as one longer `AudioDelta`: fewer, larger messages when
        the server is busy, and no added delay when it is not.
        """
        while True:
            try:
                event = await self._events.get()
            except QueueClosed:
                return
            if isinstance(event, AudioDelta) and merge_audio_up_to_ms:
                event = self._merge_waiting_audio(event, merge_audio_up_to_ms)
            yield event

    def _merge_waiting_audio(self, first: AudioDelta, limit_ms: int) -> AudioDelta:
        parts, duration_ms = [first.audio], first.duration_ms

        def continues(event: SessionEvent) -> bool:
            return (
                isinstance(event, AudioDelta)
                and event.item_id == first.item_id
                and event.audio_offset_ms == first.audio_offset_ms + duration_ms
                and duration_ms + event.duration_ms <= limit_ms
            )

        while isinstance(following := self._events.pop_if(continues), AudioDelta):
            parts.append(following.audio)
            duration_ms += following.duration_ms
        if len(parts) == 1:
            return first
        return dataclasses.replace(first, audio=b"".join(parts), duration_ms=duration_ms)

    def post(self, notice: TransportNotice) -> None:
        """Queue a transport's message to its client in order with the session's events
        (never waits: notices are few, and a full queue must not block the transport)."""
        self._events.put_nowait(notice)

    def on_route_decision(self, decision: router.RouteDecision) -> None:
        """The routers' `on_decision` callback: each decision becomes an event, in order."""
        provider, _, model = decision.route.partition("/")
        self._events.put_nowait(
            RouteDecision(decision.stage, provider, model, decision.action, decision.reason)
        )

    # --- client requests ------------------------------------------------------------------

    def append_audio(self, data: bytes) -> None:
        """Take wire-format input audio; raises `AudioFormatError` for bytes it cannot decode."""
        self._require_entered()
        self._turns.append(data)
        self.usage.audio_in(wire_duration_ms(len(data), self.config.input_format) / 1000)

    async def commit_audio(self) -> None:
        """Make the buffered input audio a user message (`input_audio_buffer.commit`)."""
        turn = self._turns.commit()
        if turn is None:
            raise InvalidRequestError(
                "input audio buffer is empty", code="input_audio_buffer_commit_empty"
            )
        await self._turn_handler.commit(turn)

    async def clear_audio(self) -> None:
        self._turns.clear()
        await self._emit(InputCleared())

    async def create_response(self, options: ResponseOptions | None = None) -> None:
        """Answer the conversation as it stands (after pending transcriptions)."""
        if self._responder.active is not None or self._response_pending:
            raise InvalidRequestError(
                "a response is already in progress",
                code="conversation_already_has_active_response",
            )
        self._response_pending = True
        self._tasks.spawn(
            self._respond_when_transcribed(options or self._turn_handler.default_options()),
            name="response-start",
        )

    async def cancel_response(self) -> None:
        if self._responder.active is None:
            raise InvalidRequestError(
                "no response is in progress", code="response_cancel_not_active"
            )
        await self._responder.interrupt("client_cancelled")

    async def add_item(self, item: Item) -> str:
        """Add a user/assistant/system text message or a `function_call_output`; return its id."""
        entry = entry_from_item(item)
        previous_item_id = self.conversation.add(entry)
        await self._emit(ItemAdded(entry.snapshot(), previous_item_id))
        await self._emit(ItemDone(entry.snapshot(), previous_item_id))
        return entry.id

    async def delete_item(self, item_id: str) -> None:
        """`conversation.item.delete`: forget the item (raises for an unknown id)."""
        self.conversation.remove(item_id)
        await self._emit(ItemDeleted(item_id))

    def item(self, item_id: str) -> Item:
        """The item as it stands (raises `InvalidRequestError` for an unknown id)."""
        return self.conversation.get(item_id).snapshot()

    def item_text(self, item_id: str) -> str | None:
        """A message's text as it stands, or None if the item is gone."""
        try:
            return self.conversation.get(item_id).text
        except InvalidRequestError:
            return None

    def text_chars(self) -> int:
        """How much text the conversation holds (messages, tool calls and their results)."""
        return sum(
            len(e.text) + len(e.arguments) + len(e.output) for e in self.conversation.entries
        )

    def resumable_messages(self) -> tuple[tuple[str, str, bool, str], ...]:
        """The user and assistant text messages, oldest first, as (role, text, truncated, item
        id): what another process needs to carry the conversation on."""
        return tuple(
            (entry.role or "user", entry.text, entry.truncated, entry.id)
            for entry in self.conversation.entries
            if entry.kind == "message" and entry.role in ("user", "assistant") and entry.text
        )

    def drain_usage(self) -> tuple[UsageRecord, ...]:
        """Usage no turn's report took (audio after the last answer, a lone transcription)."""
        return self.usage.drain()

    async def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """The client played `item_id` only up to `audio_end_ms`: forget the unheard text."""
        entry = self.conversation.get(item_id)
        message = self._responder.message(item_id)
        if message is None or entry.role != "assistant" or entry.content_type != "output_audio":
            raise InvalidRequestError(f"item {item_id!r} has no audio to truncate", param="item_id")
        if audio_end_ms > message.playback.sent_ms + message.frame_ms:
            raise InvalidRequestError(
                f"audio_end_ms {audio_end_ms} is past the item's audio", param="audio_end_ms"
            )
        truncate_to_heard(message, float(audio_end_ms))
        await self._emit(ItemTruncated(item_id, content_index, audio_end_ms))

    def playback_position(self, item_id: str, played_ms: float) -> None:
        """The client has played `item_id` up to `played_ms` (AURA widget extension)."""
        message = self._responder.message(item_id)
        if message is not None:
            message.playback.acknowledge(played_ms)

    def update(self, config: AgentConfig) -> None:
        """Apply `session.update`: the next turn and response use the new configuration."""
        self._services.reconfigure(config)
        self.config = config
        self._turns.reconfigure(config, stt=self._services.stt)

    # --- responses ------------------------------------------------------------------------

    async def _respond_when_transcribed(self, options: ResponseOptions) -> None:
        try:
            await self._turn_handler.transcribed()
            await self._responder.start(options, TurnTimeline())
        finally:
            self._response_pending = False

    # --- helpers --------------------------------------------------------------------------

    def _require_entered(self) -> None:
        if not self._entered:
            raise InvalidRequestError("the session is not running (use `async with`)")

    async def _emit(self, event: SessionEvent) -> None:
        await self._events.put(event)
