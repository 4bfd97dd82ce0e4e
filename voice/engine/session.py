"""`VoiceSession`: the one object a transport (WebSocket consumer, CLI, benchmark) drives.

Audio goes in through `append_audio`; typed events (`voice.engine.events`) come out of
`events()`. In between: input decoding and turn detection (`turns.UserTurns`), speculative
transcription and answering during the end-of-turn silence, responses (`response.ResponseRun`)
paced against the client's playback, barge-in with truncation to what was heard, and resuming
an answer after a false barge-in. Semantics follow the OpenAI Realtime API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from types import TracebackType

from voice.engine import conversation as items
from voice.engine import router
from voice.engine.audio.echo import EchoReference
from voice.engine.audio.wire import wire_duration_ms
from voice.engine.config import AgentConfig
from voice.engine.context import build_request
from voice.engine.conversation import Conversation
from voice.engine.errors import AuraError, InvalidRequestError
from voice.engine.event_queue import DEFAULT_MAX_EVENTS, EventQueue, QueueClosed
from voice.engine.events import (
    AudioDelta,
    InputCleared,
    InputCommitted,
    InputTimeout,
    Item,
    ItemAdded,
    ItemDeleted,
    ItemDone,
    ItemTruncated,
    RouteDecision,
    SessionError,
    SessionEvent,
    SpeechStarted,
    SpeechStopped,
    TranscriptionCompleted,
    TranscriptionDelta,
    TranscriptionFailed,
    TransportNotice,
)
from voice.engine.llm.base import ChatMessage, LLMRequest
from voice.engine.outcome import failure_stage
from voice.engine.playback import DEFAULT_LEAD_MS
from voice.engine.ports import (
    AudioSampler,
    Clock,
    MemorySource,
    MetricsSink,
    MonotonicClock,
    ResponseGate,
    TranscriptSink,
)
from voice.engine.responder import Responder, ResponderPorts
from voice.engine.response import (
    ResponseOptions,
    ResponseServices,
    StreamingModel,
    Synthesizer,
)
from voice.engine.response_output import MessageOutput, OutputSettings, truncate_to_heard
from voice.engine.router import LLMRouter, STTRouter, TTSRouter
from voice.engine.task_set import TaskSet
from voice.engine.tools import ToolRegistry
from voice.engine.turn_metrics import TurnTimeline
from voice.engine.turns import Speculation, Transcriber, Turn, UserTurns, has_words
from voice.engine.usage import UsageMeter, UsageRecord

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
        """
        self.config = config
        self.conversation = Conversation()
        self._clock = clock or MonotonicClock()
        # Usage of the default routers and of the audio; the transport drains what a turn's
        # report did not take (see `Responder`) when the session ends.
        self.usage = UsageMeter()
        self._given = (stt, llm, tts)
        self._stt, self._llm, self._tts = self._routers(config, stt=stt, llm=llm, tts=tts)
        self._tools = tools
        self._memory = memory
        self._response_gate = response_gate
        self._playback_lead_ms = playback_lead_ms
        self._events = EventQueue(max_events)
        self._tasks = TaskSet("voice-session")
        self._audio_sampler = audio_sampler
        # What the client's speaker plays, for the input's echo guard.
        self._echo_reference = EchoReference(client_cancels_echo=client_cancels_echo)
        self._turns = UserTurns(
            config,
            self._clock,
            self._stt,
            self._echo_reference,
            busy=lambda: self._responder.active is not None,
        )
        self._responder = Responder(
            ResponderPorts(
                conversation=self.conversation,
                events=self._events,
                tasks=self._tasks,
                clock=self._clock,
                services=self._services,
                metrics=metrics,
                transcript_sink=transcript_sink,
                usage=self.usage,
            )
        )
        self._response_pending = False
        self._transcriptions: set[asyncio.Task[None]] = set()
        self._entered = False

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> VoiceSession:
        self._entered = True
        self._tasks.spawn(self._pump_input(), name="input")
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
        await self._commit(turn)

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
            self._respond_when_transcribed(options or self._default_options()),
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
        entry = _entry_from_item(item)
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
        stt, llm, tts = self._given
        self._stt, self._llm, self._tts = self._routers(config, stt=stt, llm=llm, tts=tts)
        self.config = config
        self._tools.replace_specs(config.tools)
        self._turns.reconfigure(config, stt=self._stt)

    def _routers(
        self,
        config: AgentConfig,
        *,
        stt: Transcriber | None,
        llm: StreamingModel | None,
        tts: Synthesizer | None,
    ) -> tuple[Transcriber, StreamingModel, Synthesizer]:
        """The given providers, else routers over the config's routes reporting decisions."""
        decided, meter = self.on_route_decision, self.usage
        return (
            stt
            or STTRouter(config.stt_routes, clock=self._clock, on_decision=decided, meter=meter),
            llm
            or LLMRouter(config.llm_routes, clock=self._clock, on_decision=decided, meter=meter),
            tts
            or TTSRouter(config.tts_routes, clock=self._clock, on_decision=decided, meter=meter),
        )

    # --- the input loop: turn detection, speculation, barge-in -----------------------------

    async def _pump_input(self) -> None:
        async for signal in self._turns.signals():
            if signal.kind == "speech_started":
                await self._speech_started(signal.turn)
            elif signal.kind == "silence_started":
                self._speculate(signal.turn)
            elif signal.kind == "speech_resumed":
                signal.turn.abandon_speculation()
            elif signal.kind == "idle_timeout":
                await self._idle_timeout(signal.turn)
            else:
                await self._emit(SpeechStopped(signal.turn.item_id, signal.turn.audio_end_ms))
                await self._commit(signal.turn)

    async def _speech_started(self, turn: Turn) -> None:
        await self._emit(SpeechStarted(turn.item_id, turn.audio_start_ms))
        if self._interrupts():
            await self._responder.interrupt("turn_detected")

    def _speculate(self, turn: Turn) -> None:
        """Transcribe (and answer) during the end-of-turn silence, releasing only if it ends."""
        speculation = self._turns.speculate(turn, self._tasks)
        if speculation is None:
            return
        self._tasks.spawn(self._answer_speculatively(turn, speculation), name="speculate")

    async def _answer_speculatively(self, turn: Turn, speculation: Speculation) -> None:
        transcript = await speculation.transcript()
        if transcript is None or not has_words(transcript.text) or speculation.abandoned:
            return
        if not self._responds_automatically() or self._responder.active is not None:
            return
        cap = self._turns.policy.max_answers_per_turn
        if cap is not None and turn.speculative_answers >= cap:
            return  # the policy saves the tokens: this turn's answer starts when it ends
        if self._response_gate is not None and not await self._response_gate.responses_left():
            return  # no answer may start for this turn: do not generate one ahead of it
        user = ChatMessage(role="user", content=transcript.text.strip())
        run = self._responder.new_run(
            (*self.conversation.chat_messages(), user),
            self._default_options(),
            speculation.timeline,
            speculative=True,
        )
        turn.speculative_answers += 1
        speculation.adopt_response(run, self._responder.spawn(run))

    async def _commit(self, turn: Turn) -> None:
        entry = items.user_message("", item_id=turn.item_id, audio=True)
        entry.status = "in_progress"
        previous_item_id = self.conversation.add(entry)
        await self._emit(InputCommitted(turn.item_id, previous_item_id))
        await self._emit(ItemAdded(entry.snapshot(), previous_item_id))
        task = self._tasks.spawn(self._finish_turn(turn, entry), name="finish-turn")
        self._transcriptions.add(task)
        task.add_done_callback(self._transcriptions.discard)

    async def _idle_timeout(self, turn: Turn) -> None:
        """The user said nothing for `idle_timeout_ms`: as GA does, the quiet becomes an
        (empty) user turn and the agent answers it (it may ask whether anyone is there)."""
        await self._emit(InputTimeout(turn.item_id, turn.audio_start_ms, turn.audio_end_ms))
        entry = items.user_message("", item_id=turn.item_id, audio=True)
        previous_item_id = self.conversation.add(entry)
        await self._emit(InputCommitted(turn.item_id, previous_item_id))
        await self._emit(ItemAdded(entry.snapshot(), previous_item_id))
        await self._emit(TranscriptionCompleted(turn.item_id, "", 0.0))
        await self._emit(ItemDone(entry.snapshot(), previous_item_id))
        if self._responds_automatically() and await self._admit_automatic_response():
            await self._responder.start(self._default_options(), turn.timeline)

    def _measure_quality(self, turn: Turn) -> asyncio.Future[dict[str, float]]:
        """The turn's audio quality, computed in a worker thread while it is transcribed."""
        return asyncio.get_running_loop().run_in_executor(None, turn.measure_quality)

    def _sample_input(self, turn: Turn) -> None:
        sampler = self._audio_sampler
        if sampler is None or turn.audio is None or not sampler.wants_sample():
            return
        start, end = turn.speech_samples
        speech = turn.audio[start:end] if end > start else turn.audio
        sampler.sample(direction="input", item_id=turn.item_id, audio=speech, rate_hz=16_000)

    async def _finish_turn(self, turn: Turn, entry: items.Entry) -> None:
        """Transcribe the committed turn, then answer (or resume, or do nothing)."""
        quality = self._measure_quality(turn)
        try:
            transcript = await turn.final_transcript()
        except AuraError as error:
            turn.abandon_speculation()
            self.conversation.remove(entry.id)
            await self._emit(TranscriptionFailed(turn.item_id, error))
            await self._emit(SessionError(error))
            turn.timeline.audio_quality.update(await quality)
            await self._responder.turn_failed_before_response(
                turn.timeline, stage=failure_stage(error, default="stt"), error=error
            )
            return
        _record_quality(turn.timeline, quality, getattr(transcript, "confidence", None))
        self._sample_input(turn)
        entry.text, entry.status = transcript.text.strip(), "completed"
        for delta in transcript_deltas(entry.text):
            await self._emit(TranscriptionDelta(turn.item_id, delta))
        await self._emit(
            TranscriptionCompleted(turn.item_id, entry.text, transcript.audio_duration_s)
        )
        await self._emit(ItemDone(entry.snapshot()))
        window_ms = self.config.false_barge_in_window_ms
        stopped_at_s = turn.speech_stopped_at_s
        if await self._responder.resume_if_false_barge_in(
            entry, speech_stopped_at_s=stopped_at_s, window_ms=window_ms
        ):
            turn.abandon_speculation()
            return
        if not has_words(entry.text) or turn.manual or not self._responds_automatically():
            turn.abandon_speculation()
            return
        if self._turns.speaking and self._interrupts():
            # The user already talks again: answer that turn, with this one as context.
            turn.abandon_speculation()
            return
        if not await self._admit_automatic_response():
            turn.abandon_speculation()
            return
        run = turn.speculative_response()
        if run is not None and self._responder.active is None:
            self._responder.activate(run, turn.speculative_task())
            return
        turn.abandon_speculation()
        await self._responder.start(self._default_options(), turn.timeline)

    # --- responses ------------------------------------------------------------------------

    async def _admit_automatic_response(self) -> bool:
        """Whether the gate lets this turn's automatic answer start (refusals are reported)."""
        if self._response_gate is None:
            return True
        try:
            await self._response_gate.admit_response()
        except AuraError as error:
            await self._emit(SessionError(error))
            return False
        return True

    async def _respond_when_transcribed(self, options: ResponseOptions) -> None:
        try:
            if self._transcriptions:
                await asyncio.wait(set(self._transcriptions))
            await self._responder.start(options, TurnTimeline())
        finally:
            self._response_pending = False

    def _services(self) -> ResponseServices:
        return ResponseServices(
            config=self.config,
            llm=self._llm,
            tts=self._tts,
            tools=self._tools,
            build_request=self._build_request,
            output=OutputSettings(
                output_format=self.config.output_format,
                frame_ms=self.config.output_frame_ms,
                playback_lead_ms=self._playback_lead_ms,
                conversation=self.conversation,
                events=self._events,
                clock=self._clock,
                on_message=self._message_started,
                sampler=self._audio_sampler,
            ),
        )

    def _message_started(self, message: MessageOutput) -> None:
        self._responder.remember_message(message)
        self._echo_reference.playing(message.played, message.playback.heard_ms)

    # --- helpers --------------------------------------------------------------------------

    async def _build_request(
        self, messages: tuple[ChatMessage, ...], options: ResponseOptions
    ) -> LLMRequest:
        summary = await self._memory.summary() if self._memory is not None else None
        return build_request(
            self.config,
            messages,
            summary=summary,
            instructions=options.instructions,
            max_output_tokens=options.max_output_tokens,
            tool_choice=options.tool_choice,
        )

    def _interrupts(self) -> bool:
        detection = self.config.turn_detection
        return detection is not None and detection.interrupt_response

    def _responds_automatically(self) -> bool:
        detection = self.config.turn_detection
        return detection is not None and detection.create_response

    def _default_options(self) -> ResponseOptions:
        return ResponseOptions(max_output_tokens=self.config.max_output_tokens)

    def _require_entered(self) -> None:
        if not self._entered:
            raise InvalidRequestError("the session is not running (use `async with`)")

    async def _emit(self, event: SessionEvent) -> None:
        await self._events.put(event)


# Words per `conversation.item.input_audio_transcription.delta` when the provider gives only
# the final text: clients that render deltas see it arrive, as they would from OpenAI.
DELTA_WORDS = 4


def transcript_deltas(text: str) -> list[str]:
    """The transcript in pieces of a few words that join back to exactly `text`."""
    words = text.split(" ")
    pieces = [" ".join(words[i : i + DELTA_WORDS]) for i in range(0, len(words), DELTA_WORDS)]
    return [piece if i == 0 else " " + piece for i, piece in enumerate(pieces) if text]


def _record_quality(
    timeline: TurnTimeline, quality: asyncio.Future[dict[str, float]], confidence: object
) -> None:
    """Fill the turn's audio quality in when its thread is done (long before the turn's
    metrics are reported, at the end of its answer); the answer does not wait for it."""
    if isinstance(confidence, int | float):
        timeline.audio_quality["stt_confidence"] = float(confidence)

    def filled(done: asyncio.Future[dict[str, float]]) -> None:
        if done.cancelled():
            return
        if done.exception() is not None:
            logger.warning("audio quality measurement failed", exc_info=done.exception())
            return
        timeline.audio_quality.update(done.result())

    quality.add_done_callback(filled)


def _entry_from_item(item: Item) -> items.Entry:
    item_id = item.id or None
    if item.kind == "function_call_output":
        return items.function_call_output(
            call_id=item.call_id or "", output=item.output or "", item_id=item_id
        )
    if item.kind == "message" and item.role in ("user", "assistant", "system"):
        entry = items.user_message(item.text or "", item_id=item_id)
        entry.role = item.role
        entry.content_type = "output_text" if item.role == "assistant" else "input_text"
        return entry
    raise InvalidRequestError(f"cannot add an item of kind {item.kind!r}", param="item.type")
