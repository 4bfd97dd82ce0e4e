"""The session's responses over time: one active at a time, interrupted, resumed, reported.

`Responder` starts `ResponseRun`s and owns the speculative answers prepared during end-of-turn
silences (it starts, holds, adopts and abandons them). It stops the active response on a
barge-in or a client cancel, remembers the cut answer so that a false barge-in can resume it,
and closes every response with its metrics, the transcript sink and, after a goodbye,
`ConversationEnded`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from voice.engine.errors import AuraError
from voice.engine.events import ConversationEnded, ResponseDone, ResponseReason
from voice.engine.llm.base import ChatMessage
from voice.engine.observability.log_context import current_turn
from voice.engine.observability.turn_metrics import TurnTimeline, observe
from voice.engine.observability.usage import UsageMeter, UsageRecord
from voice.engine.pipeline import conversation as items
from voice.engine.pipeline.conversation import Conversation
from voice.engine.pipeline.event_queue import EventQueue
from voice.engine.pipeline.outcome import failure_stage
from voice.engine.pipeline.response import ResponseRun
from voice.engine.pipeline.response_output import Interruption, MessageOutput, truncate_to_heard
from voice.engine.pipeline.response_services import ResponseOptions, ResponseServices
from voice.engine.pipeline.speculation import Speculation
from voice.engine.pipeline.speculative_answer import SpeculativeAnswer
from voice.engine.pipeline.task_set import TaskSet
from voice.engine.ports import Clock, MetricsSink, TranscriptSink, TurnReport

logger = logging.getLogger(__name__)

# Messages whose audio a client may still truncate or acknowledge.
RECENT_MESSAGES = 8


@dataclass(slots=True)
class _Resumable:
    """An answer cut by a barge-in that may yet prove false."""

    interruption: Interruption
    options: ResponseOptions
    interrupted_at_s: float


@dataclass(frozen=True, slots=True)
class ResponderPorts:
    conversation: Conversation
    events: EventQueue
    tasks: TaskSet
    clock: Clock
    services: Callable[[], ResponseServices]
    metrics: MetricsSink | None = None
    transcript_sink: TranscriptSink | None = None
    usage: UsageMeter | None = None


class Responder:
    """Owns the active response and what the last ones left behind."""

    def __init__(self, ports: ResponderPorts) -> None:
        self._ports = ports
        self._active: tuple[ResponseRun, asyncio.Task[None]] | None = None
        # Speculative answers held until their turn is confirmed (seldom more than one).
        self._ahead: list[SpeculativeAnswer] = []
        self._messages: dict[str, MessageOutput] = {}
        self._last_message: MessageOutput | None = None
        self._resumable: _Resumable | None = None
        self._reported_mark = 0

    @property
    def active(self) -> ResponseRun | None:
        return self._active[0] if self._active is not None else None

    def message(self, item_id: str) -> MessageOutput | None:
        """An assistant message of the active response or a recent one, with its audio
        accounting."""
        if self._active is not None:
            for message in self._active[0].output.messages:
                if message.entry.id == item_id:
                    return message
        return self._messages.get(item_id)

    def _remember_messages(self, run: ResponseRun) -> None:
        for message in run.output.messages:
            self._messages[message.entry.id] = message
        while len(self._messages) > RECENT_MESSAGES:
            del self._messages[next(iter(self._messages))]

    # --- starting -------------------------------------------------------------------------

    def _new_run(
        self,
        messages: tuple[ChatMessage, ...],
        options: ResponseOptions,
        timeline: TurnTimeline,
        *,
        speculative: bool = False,
        script: tuple[str, ...] | None = None,
    ) -> ResponseRun:
        return ResponseRun(
            self._ports.services(),
            messages=messages,
            options=options,
            timeline=timeline,
            speculative=speculative,
            script=script,
        )

    def _spawn(self, run: ResponseRun) -> asyncio.Task[None]:
        """Run a response in a task the session owns (not yet the active one)."""
        return self._ports.tasks.spawn(self._drive(run), name="response")

    def _activate(self, run: ResponseRun, task: asyncio.Task[None]) -> None:
        self._active = (run, task)
        self._resumable = None
        run.release()

    async def start(
        self,
        options: ResponseOptions,
        timeline: TurnTimeline,
        *,
        script: tuple[str, ...] | None = None,
    ) -> None:
        """Answer the conversation as it stands, once the previous response has ended."""
        while self._active is not None:
            # Without interrupt_response a turn can end while the agent still speaks.
            await asyncio.wait({self._active[1]})
        messages = self._ports.conversation.chat_messages()
        run = self._new_run(messages, options, timeline, script=script)
        self._activate(run, self._spawn(run))

    # --- speculative answers --------------------------------------------------------------

    def answer_ahead(
        self, guess: Speculation, messages: tuple[ChatMessage, ...], options: ResponseOptions
    ) -> None:
        """Start answering a guessed transcript: the answer is held (silent, no tool calls)
        until `adopt`, and abandoned with its guess."""
        run = self._new_run(messages, options, guess.timeline, speculative=True)
        answer = SpeculativeAnswer(guess, run, self._spawn(run))
        self._ahead.append(answer)
        guess.when_abandoned(lambda: self._abandon(answer))

    def adopt(self, guess: Speculation | None) -> bool:
        """Make the answer prepared for `guess` the active response and let it speak; False
        if there is none still running, or another response is active (the answer is then
        left to be abandoned with its guess)."""
        answer = next((held for held in self._ahead if held.guess is guess), None)
        if answer is None or not answer.live or self._active is not None:
            return False
        self._ahead.remove(answer)
        self._activate(answer.run, answer.task)
        return True

    def _abandon(self, answer: SpeculativeAnswer) -> None:
        # An adopted answer is the active response now: only a barge-in or a cancel stops it.
        if answer in self._ahead:
            self._ahead.remove(answer)
            answer.abandon()

    async def _drive(self, run: ResponseRun) -> None:
        current_turn.set(run.id)  # this task's context only: its log lines name the turn
        done = await run.run()
        await self._finished(run, done)

    # --- stopping -------------------------------------------------------------------------

    async def interrupt(self, reason: ResponseReason) -> None:
        """Stop the active response now: no more audio, flush the client, cut to the heard."""
        if self._active is None or self._active[0].finished:
            await self.flush_tail()
            return
        run, task = self._active
        task.cancel()
        interruption = run.stop_output()
        if interruption.flush is not None:
            await self._ports.events.put(interruption.flush)
        await asyncio.wait({task})
        done = await run.finish_cancelled(reason)
        if reason == "turn_detected" and interruption.unheard_clauses:
            now_s = self._ports.clock.monotonic()
            self._resumable = _Resumable(interruption, run.options, now_s)
        await self._finished(run, done)

    async def flush_tail(self) -> None:
        """Speech right after an answer ended: its last frames may still be playing."""
        message = self._last_message
        if message is None or message.playback.unplayed_ms() <= 0:
            return
        self._last_message = None
        flush = truncate_to_heard(message, message.playback.heard_ms())
        if flush is not None:
            await self._ports.events.put(flush)

    async def resume_if_false_barge_in(
        self, user_entry: items.Entry, *, speech_stopped_at_s: float, window_ms: int
    ) -> bool:
        """A barge-in whose speech had no words: say the rest of the interrupted answer."""
        resumable, self._resumable = self._resumable, None
        if resumable is None or any(c.isalnum() for c in user_entry.text):
            return False
        if speech_stopped_at_s - resumable.interrupted_at_s > window_ms / 1000:
            return False
        interrupted = resumable.interruption.entry
        if interrupted is not None:
            interrupted.text = resumable.interruption.heard_clauses_text
            interrupted.truncated = False
        # The noise was not a message: it must not sit between the two halves of the answer.
        self._ports.conversation.remove(user_entry.id)
        logger.info("false barge-in: resuming %s", resumable.interruption.response_id)
        await self.start(
            resumable.options, TurnTimeline(), script=resumable.interruption.unheard_clauses
        )
        return True

    # --- closing --------------------------------------------------------------------------

    async def _finished(self, run: ResponseRun, done: ResponseDone) -> None:
        if self._active is not None and self._active[0] is run:
            self._active = None
        self._remember_messages(run)
        # Only a completed answer can still be playing out; a cut one was flushed already.
        self._last_message = run.message if done.status == "completed" else None
        failed = done.status == "failed"
        metrics = run.timeline.metrics(
            response_id=run.id,
            input_tokens=done.usage.input_tokens,
            output_tokens=done.usage.output_tokens,
            audio_out_s=run.audio_out_s,
            status=done.status,
            # A response fails at the language model unless its error names another stage.
            failed_stage=failure_stage(done.error, default="llm") if failed else None,
            error_code=(done.error.code if done.error is not None else "internal_error")
            if failed
            else None,
        )
        usage: tuple[UsageRecord, ...] = ()
        if self._ports.usage is not None and self._ports.transcript_sink is not None:
            # Everything since the last turn's report: this answer, cancelled and hedged
            # generations, speculative transcriptions, the audio in and out.
            self._ports.usage.audio_out(run.audio_out_s)
            usage = self._ports.usage.drain()
        # Reported before anything else is queued: a transport may hold `response.done` back
        # until the sink has made the turn durable, and must not wait on a full queue for it.
        self._ports.tasks.spawn(self._report_turn(TurnReport(metrics, usage)), name="report-turn")
        await self._ports.events.put(metrics)
        observe(self._ports.metrics, metrics, {"status": done.status})
        if run.ends_conversation and done.status == "completed":
            if run.message is not None:
                # The goodbye must be heard before the transport hangs up.
                await asyncio.sleep(run.message.playback.unplayed_ms() / 1000)
            await self._ports.events.put(ConversationEnded())

    async def turn_failed_before_response(
        self, timeline: TurnTimeline, *, stage: str, error: AuraError
    ) -> None:
        """A user turn that failed before any response began (its transcription): counted
        and recorded like any failed turn, so the error rate sees every stage."""
        metrics = timeline.metrics(
            response_id="",
            input_tokens=0,
            output_tokens=0,
            audio_out_s=0.0,
            status="failed",
            failed_stage=stage,
            error_code=error.code,
        )
        await self._ports.events.put(metrics)
        observe(self._ports.metrics, metrics, {"status": "failed"})
        self._ports.tasks.spawn(self._report_turn(TurnReport(metrics)), name="report-turn")

    async def _report_turn(self, report: TurnReport) -> None:
        sink = self._ports.transcript_sink
        if sink is None:
            return
        conversation = self._ports.conversation
        entries = conversation.entries_since(self._reported_mark)
        self._reported_mark = conversation.mark()
        try:
            await sink.turn_finished(items.to_chat_messages(entries), report)
        except Exception:
            logger.exception("transcript sink failed; the turn is not persisted")
