"""What each user turn leads to: its events, its user item, its transcript and its answer.

`TurnHandler` reads `UserTurns`' signals, named by the turn detector's events: `SpeechStarted`
(a barge-in interrupts the answer), `SilenceStarted` (guess the transcript during the
end-of-turn silence, and have the responder answer the guess ahead), `PauseHeld` (answer the
guess now, when the policy waits for the pause to last), `SpeechResumed` (the guess, and its
answer, are void), `SpeechStopped` (commit the user item, transcribe it, then answer:
adopt the answer prepared ahead, resume after a false barge-in, or start a new one) and
`IdleTimeout`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from voice.engine.config import AgentConfig
from voice.engine.errors import AuraError
from voice.engine.events import (
    InputCommitted,
    InputTimeout,
    ItemAdded,
    ItemDone,
    SessionError,
    SessionEvent,
    SpeechStarted,
    SpeechStopped,
    TranscriptionCompleted,
    TranscriptionDelta,
    TranscriptionFailed,
)
from voice.engine.llm.base import ChatMessage
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.pipeline import conversation as items
from voice.engine.pipeline.conversation import Conversation
from voice.engine.pipeline.event_queue import EventQueue
from voice.engine.pipeline.outcome import failure_stage
from voice.engine.pipeline.responder import Responder
from voice.engine.pipeline.response_services import ResponseOptions
from voice.engine.pipeline.speculation import Speculation
from voice.engine.pipeline.task_set import TaskSet
from voice.engine.pipeline.turns import IdleTimeout, UserTurns
from voice.engine.pipeline.user_turn import Turn, has_words
from voice.engine.ports import AudioSampler, ResponseGate
from voice.engine.vad import turn_detector as detection

logger = logging.getLogger(__name__)

# Words per `conversation.item.input_audio_transcription.delta` when the provider gives only
# the final text: clients that render deltas see it arrive, as they would from OpenAI.
DELTA_WORDS = 4


@dataclass(frozen=True, slots=True)
class TurnPorts:
    """What the turn handler shares with its session."""

    turns: UserTurns
    responder: Responder
    conversation: Conversation
    events: EventQueue
    tasks: TaskSet
    # The session's configuration as it stands (`session.update` replaces it).
    config: Callable[[], AgentConfig]
    response_gate: ResponseGate | None = None
    audio_sampler: AudioSampler | None = None


class TurnHandler:
    """Turns the user's turns into events, user items and answers."""

    def __init__(self, ports: TurnPorts) -> None:
        self._ports = ports
        self._turns = ports.turns
        self._responder = ports.responder
        self._conversation = ports.conversation
        self._transcriptions: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Handle turn signals until cancelled (the session's input task)."""
        async for signal in self._turns.signals():
            moment, turn = signal.moment, signal.turn
            if isinstance(moment, detection.SpeechStarted):
                await self._speech_started(turn)
            elif isinstance(moment, detection.SilenceStarted):
                self._speculate(turn)
            elif isinstance(moment, detection.PauseHeld):
                self._answer_held_pause(turn)
            elif isinstance(moment, detection.SpeechResumed):
                turn.abandon_speculation()
            elif isinstance(moment, detection.SpeechStopped):
                await self._emit(SpeechStopped(turn.item_id, turn.audio_end_ms))
                await self.commit(turn)
            elif isinstance(moment, IdleTimeout):
                await self._idle_timeout(turn)
            else:
                assert_never(moment)

    async def commit(self, turn: Turn) -> None:
        """Make the turn a user item, transcribed (and answered) in the background."""
        entry = items.user_message("", item_id=turn.item_id, audio=True)
        entry.status = "in_progress"
        previous_item_id = self._conversation.add(entry)
        await self._emit(InputCommitted(turn.item_id, previous_item_id))
        await self._emit(ItemAdded(entry.snapshot(), previous_item_id))
        task = self._ports.tasks.spawn(self._finish_turn(turn, entry), name="finish-turn")
        self._transcriptions.add(task)
        task.add_done_callback(self._transcriptions.discard)

    async def transcribed(self) -> None:
        """Wait until every committed turn has its transcript (a response must see them)."""
        if self._transcriptions:
            await asyncio.wait(set(self._transcriptions))

    def default_options(self) -> ResponseOptions:
        return ResponseOptions(max_output_tokens=self._ports.config().max_output_tokens)

    # --- the signals ----------------------------------------------------------------------

    async def _speech_started(self, turn: Turn) -> None:
        await self._emit(SpeechStarted(turn.item_id, turn.audio_start_ms))
        if self._interrupts():
            await self._responder.interrupt("turn_detected")

    def _speculate(self, turn: Turn) -> None:
        """Transcribe (and answer) during the end-of-turn silence, releasing only if it ends."""
        speculation = self._turns.speculate(turn, self._ports.tasks)
        if speculation is None or self._turns.policy.answer_pause_ms is not None:
            return  # no guess, or its answer waits until the pause is held
        self._ports.tasks.spawn(self._answer_speculatively(turn, speculation), name="speculate")

    def _answer_held_pause(self, turn: Turn) -> None:
        """The pause has lasted long enough to pay for an answer to the guess made in it."""
        speculation = turn.speculation
        if speculation is None or speculation.abandoned:
            return
        self._ports.tasks.spawn(self._answer_speculatively(turn, speculation), name="speculate")

    async def _answer_speculatively(self, turn: Turn, speculation: Speculation) -> None:
        transcript = await speculation.transcript()
        if transcript is None or not has_words(transcript.text) or speculation.abandoned:
            return
        if not self._responds_automatically() or self._responder.active is not None:
            return
        cap = self._turns.policy.max_answers_per_turn
        if cap is not None and turn.speculative_answers >= cap:
            return  # the policy saves the tokens: this turn's answer starts when it ends
        gate = self._ports.response_gate
        if gate is not None and not await gate.responses_left():
            return  # no answer may start for this turn: do not generate one ahead of it
        user = ChatMessage(role="user", content=transcript.text.strip())
        turn.speculative_answers += 1
        self._responder.answer_ahead(
            speculation, (*self._conversation.chat_messages(), user), self.default_options()
        )

    async def _idle_timeout(self, turn: Turn) -> None:
        """The user said nothing for `idle_timeout_ms`: as GA does, the quiet becomes an
        (empty) user turn and the agent answers it (it may ask whether anyone is there)."""
        await self._emit(InputTimeout(turn.item_id, turn.audio_start_ms, turn.audio_end_ms))
        entry = items.user_message("", item_id=turn.item_id, audio=True)
        previous_item_id = self._conversation.add(entry)
        await self._emit(InputCommitted(turn.item_id, previous_item_id))
        await self._emit(ItemAdded(entry.snapshot(), previous_item_id))
        await self._emit(TranscriptionCompleted(turn.item_id, "", 0.0))
        await self._emit(ItemDone(entry.snapshot(), previous_item_id))
        if self._responds_automatically() and await self._admit_automatic_response():
            await self._responder.start(self.default_options(), turn.timeline)

    # --- a committed turn -----------------------------------------------------------------

    def _measure_quality(self, turn: Turn) -> asyncio.Future[dict[str, float]]:
        """The turn's audio quality, computed in a worker thread while it is transcribed."""
        return asyncio.get_running_loop().run_in_executor(None, turn.measure_quality)

    def _sample_input(self, turn: Turn) -> None:
        sampler = self._ports.audio_sampler
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
            self._conversation.remove(entry.id)
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
        if await self._answer(turn, entry):
            return
        turn.abandon_speculation()

    async def _answer(self, turn: Turn, entry: items.Entry) -> bool:
        """Answer a transcribed turn; False if it gets no answer of its own (its speculative
        one, if any, is then abandoned)."""
        window_ms = self._ports.config().false_barge_in_window_ms
        stopped_at_s = turn.speech_stopped_at_s
        if await self._responder.resume_if_false_barge_in(
            entry, speech_stopped_at_s=stopped_at_s, window_ms=window_ms
        ):
            return False
        if not has_words(entry.text) or turn.manual or not self._responds_automatically():
            return False
        if self._turns.speaking and self._interrupts():
            # The user already talks again: answer that turn, with this one as context.
            return False
        if not await self._admit_automatic_response():
            return False
        if self._responder.adopt(turn.speculation):
            return True
        turn.abandon_speculation()
        await self._responder.start(self.default_options(), turn.timeline)
        return True

    async def _admit_automatic_response(self) -> bool:
        """Whether the gate lets this turn's automatic answer start (refusals are reported)."""
        gate = self._ports.response_gate
        if gate is None:
            return True
        try:
            await gate.admit_response()
        except AuraError as error:
            await self._emit(SessionError(error))
            return False
        return True

    # --- helpers --------------------------------------------------------------------------

    def _interrupts(self) -> bool:
        turn_detection = self._ports.config().turn_detection
        return turn_detection is not None and turn_detection.interrupt_response

    def _responds_automatically(self) -> bool:
        turn_detection = self._ports.config().turn_detection
        return turn_detection is not None and turn_detection.create_response

    async def _emit(self, event: SessionEvent) -> None:
        await self._ports.events.put(event)


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
