"""User turns: input decoding, turn detection and speculative transcription.

`UserTurns` turns wire audio into turn signals (speech started, silence started, speech resumed,
speech stopped), each about one `Turn`. During the end-of-turn silence a turn can `speculate`:
its audio so far is transcribed in the background, so that when the silence is confirmed the
transcript is (nearly) ready; speech resuming abandons the guess.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import numpy.typing as npt

from voice.engine.audio.decoder import InputAudioDecoder
from voice.engine.audio.echo import EchoReference
from voice.engine.audio.front_end import InputFrontEnd
from voice.engine.audio_quality import ArrivalQuality, ArrivalStats, InputQuality, input_quality
from voice.engine.config import PIPELINE_RATE_HZ, AgentConfig
from voice.engine.errors import AuraError, InvalidRequestError
from voice.engine.events import new_id
from voice.engine.ports import Clock
from voice.engine.speculation import SpeculationPolicy, speculation_policy
from voice.engine.stt.base import NO_HINTS, Transcript, TranscriptionHints
from voice.engine.task_set import TaskSet
from voice.engine.turn_metrics import ArrivalClock, TurnTimeline
from voice.engine.vad import turn_detector as detection

if TYPE_CHECKING:
    from voice.engine.response import ResponseRun

logger = logging.getLogger(__name__)

Audio = npt.NDArray[np.int16]
SignalKind = Literal[
    "speech_started", "silence_started", "speech_resumed", "speech_stopped", "idle_timeout"
]

# Audio waiting for the turn detector; more means the session is stuck (events unread).
MAX_BACKLOG_S = 30


class Transcriber(Protocol):
    """A `SpeechToText` or an `STTRouter`."""

    @property
    def runs_locally(self) -> bool: ...

    async def transcribe(
        self,
        audio_16k: npt.NDArray[np.int16],
        *,
        language: str | None = None,
        hints: TranscriptionHints = NO_HINTS,
    ) -> Transcript: ...


def has_words(text: str) -> bool:
    """Whether a transcript holds anything said (not only punctuation or blanks)."""
    return any(character.isalnum() for character in text)


def _duration_s(audio: Audio) -> float:
    return len(audio) / PIPELINE_RATE_HZ


@dataclass(slots=True)
class Speculation:
    """A transcript (and maybe an answer) computed before the turn's end is confirmed."""

    audio: Audio
    timeline: TurnTimeline
    transcription: asyncio.Task[Transcript | None]
    # Whether abandoning it stops the transcription too (a remote provider's request).
    cancellable: bool = False
    abandoned: bool = False
    response: ResponseRun | None = None
    response_task: asyncio.Task[None] | None = None

    async def transcript(self) -> Transcript | None:
        """The guessed transcript; None if it failed or was cancelled with the speculation."""
        try:
            return await asyncio.shield(self.transcription)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.transcription.cancelled() and (current is None or not current.cancelling()):
                return None
            raise

    def adopt_response(self, run: ResponseRun, task: asyncio.Task[None]) -> None:
        self.response, self.response_task = run, task
        if self.abandoned:
            task.cancel()

    def abandon(self) -> None:
        # A local transcription keeps running: its thread cannot be stopped, and while it
        # runs the CPU is not free for another guess. A remote one is cancelled, so that it
        # neither costs an upload's worth of work nor holds back the next guess.
        self.abandoned = True
        if self.cancellable:
            self.transcription.cancel()
        if self.response_task is not None:
            self.response_task.cancel()


@dataclass(slots=True)
class Turn:
    """One user utterance, from speech start (or manual commit) to its transcript."""

    stt: Transcriber
    language: str
    clock: Clock
    hints: TranscriptionHints = NO_HINTS
    item_id: str = field(default_factory=lambda: new_id("item"))
    audio_start_ms: int = 0
    audio_end_ms: int = 0
    audio: Audio | None = None
    manual: bool = False
    speech_stopped_at_s: float = 0.0
    timeline: TurnTimeline = field(default_factory=TurnTimeline)
    speculation: Speculation | None = None
    # When the server received the last sample of speech (see turn_metrics.ArrivalClock).
    speech_end_at: float | None = None
    # Where the words are in `audio` (the VAD's segmentation; all of it for a manual commit).
    speech_samples: tuple[int, int] = (0, 0)
    arrival: ArrivalQuality | None = None
    # Speculative answers started for this turn (the policy caps them).
    speculative_answers: int = 0

    def measure_quality(self) -> dict[str, float]:
        """The audio quality of this turn (CPU work: run it in a worker thread)."""
        quality: dict[str, float] = {}
        if self.audio is not None:
            start, end = self.speech_samples
            measured: InputQuality | None = input_quality(
                self.audio, speech_start=start, speech_end=end
            )
            if measured is not None:
                quality["level_dbfs"] = measured.level_dbfs
                quality["clipping_ratio"] = measured.clipping_ratio
                if measured.noise_floor_dbfs is not None:
                    quality["noise_floor_dbfs"] = measured.noise_floor_dbfs
                if measured.snr_db is not None:
                    quality["snr_db"] = measured.snr_db
        if self.arrival is not None:
            quality["arrival_jitter_ms"] = self.arrival.jitter_ms
            quality["arrival_gaps"] = float(self.arrival.gaps)
        return quality

    def speculate(self, tasks: TaskSet, audio: Audio) -> Speculation:
        """Start transcribing `audio` (the turn so far) in the background."""
        self.abandon_speculation()
        timeline = TurnTimeline(
            speech_end_at=self.speech_end_at, user_item_id=self.item_id, speculative=True
        )
        task = tasks.spawn(self._guess(audio, timeline), name="speculative-stt")
        self.speculation = Speculation(audio, timeline, task, cancellable=not self.stt.runs_locally)
        return self.speculation

    async def _guess(self, audio: Audio, timeline: TurnTimeline) -> Transcript | None:
        try:
            transcript = await self.stt.transcribe(audio, language=self.language, hints=self.hints)
        except AuraError as error:
            # The confirmed turn transcribes again and reports the failure properly.
            logger.warning("speculative transcription failed: %s", error.message)
            return None
        timeline.transcript_at = self.clock.monotonic()
        return transcript

    def abandon_speculation(self) -> None:
        if self.speculation is not None:
            self.speculation.abandon()

    def speculative_response(self) -> ResponseRun | None:
        speculation = self.speculation
        if speculation is None or speculation.abandoned or speculation.response_task is None:
            return None
        if speculation.response_task.done():
            return None
        return speculation.response

    def speculative_task(self) -> asyncio.Task[None]:
        assert self.speculation is not None
        assert self.speculation.response_task is not None
        return self.speculation.response_task

    async def final_transcript(self) -> Transcript:
        """The transcript of the whole turn: the speculative one if still valid, else a new one."""
        speculation = self.speculation
        if speculation is not None and not speculation.abandoned:
            transcript = await speculation.transcript()
            if transcript is not None:
                speculation.timeline.speech_stopped_at = self.timeline.speech_stopped_at
                speculation.timeline.audio_in_s = self.timeline.audio_in_s
                self.timeline = speculation.timeline
                return transcript
        self.abandon_speculation()
        assert self.audio is not None
        transcript = await self.stt.transcribe(self.audio, language=self.language, hints=self.hints)
        self.timeline.transcript_at = self.clock.monotonic()
        return transcript


@dataclass(frozen=True, slots=True)
class TurnSignal:
    kind: SignalKind
    turn: Turn


class UserTurns:
    """Input audio in, turn signals out; the manual buffer when turn detection is off."""

    def __init__(
        self,
        config: AgentConfig,
        clock: Clock,
        stt: Transcriber,
        echo_reference: EchoReference | None = None,
        *,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self._clock = clock
        self._stt = stt
        # Whether the agent is answering: no idle timeout runs meanwhile.
        self._busy = busy
        self._arrivals = ArrivalClock()
        self._arrival_stats = ArrivalStats()
        # Audio position (ms) where the current quiet began, for `idle_timeout_ms`.
        self._quiet_since_ms = 0
        self._backlog: deque[Audio] = deque()
        self._backlog_samples = 0
        self._audio_waiting = asyncio.Event()
        self._turn: Turn | None = None
        self._last_speculation: Speculation | None = None
        self._config = config
        self.policy = speculation_policy(config, stt_runs_locally=stt.runs_locally)
        self._decoder = InputAudioDecoder(config.input_format)
        self._front_end = InputFrontEnd(config, echo_reference)
        # With turn detection off the detector only buffers, bounded, until `commit`.
        self._detector = self._new_detector()
        self._detector_offset_ms = 0

    def _new_detector(self) -> detection.TurnDetector:
        return detection.TurnDetector(self._config.turn_detection, pause_ms=self.policy.pause_ms)

    @property
    def speaking(self) -> bool:
        """The user is mid-turn (between speech started and speech stopped)."""
        return self._turn is not None

    def reconfigure(self, config: AgentConfig, *, stt: Transcriber) -> None:
        """Apply a new config; the decoder and detector restart only if their part changed."""
        previous, self._config = self._config, config
        previous_policy: SpeculationPolicy = self.policy
        self._stt = stt
        self.policy = speculation_policy(config, stt_runs_locally=stt.runs_locally)
        if previous.input_format != config.input_format:
            self._decoder = InputAudioDecoder(config.input_format)
        self._front_end = self._front_end.reconfigured(config)
        if previous.turn_detection == config.turn_detection:
            if previous_policy.pause_ms != self.policy.pause_ms:
                self._detector.set_pause_ms(self.policy.pause_ms)
        else:
            self._detector = self._new_detector()
            # A new detector counts from zero (from the audio it has not seen yet); session
            # times count from the session's first sample.
            unseen_samples = self._arrivals.total_samples - self._backlog_samples
            self._detector_offset_ms = unseen_samples * 1000 // PIPELINE_RATE_HZ
            if self._turn is not None:
                self._turn.abandon_speculation()
            self._turn = None

    def append(self, data: bytes) -> None:
        decoded = self._decoder.decode(data)
        if len(decoded) == 0:
            return
        audio = self._front_end.process(decoded)
        if len(audio) == 0:
            return
        now = self._clock.monotonic()
        self._arrivals.audio_arrived(len(audio), now)
        self._arrival_stats.chunk_arrived(len(audio), now)
        if self._backlog_samples > MAX_BACKLOG_S * PIPELINE_RATE_HZ:
            raise InvalidRequestError(
                "input audio is not being consumed (are the session's events being read?)",
                code="input_audio_backlog_full",
            )
        self._backlog.append(audio)
        self._backlog_samples += len(audio)
        self._audio_waiting.set()

    async def signals(self) -> AsyncIterator[TurnSignal]:
        """Turn signals for the audio appended, forever (the session cancels the loop)."""
        while True:
            await self._audio_waiting.wait()
            self._audio_waiting.clear()
            for signal in self._drain_backlog():
                yield signal

    def _drain_backlog(self) -> list[TurnSignal]:
        signals = []
        while self._backlog:
            audio = self._backlog.popleft()
            self._backlog_samples -= len(audio)
            signals.extend(self._detect(audio))
        return signals

    def _detect(self, audio: Audio) -> list[TurnSignal]:
        signals = []
        for event in self._detector.process(audio):
            signal = self._signal(event)
            if signal is not None:
                signals.append(signal)
        timeout = self._idle_timeout()
        if timeout is not None:
            signals.append(timeout)
        return signals

    def _position_ms(self) -> int:
        return self._detector.processed_ms + self._detector_offset_ms

    def _idle_timeout(self) -> TurnSignal | None:
        """GA's `idle_timeout_ms`: no speech for that long after the last answer (or the last
        turn) makes the quiet audio a turn of its own, `audio_start_ms`..`audio_end_ms`."""
        detection_config = self._config.turn_detection
        position_ms = self._position_ms()
        if (
            detection_config is None
            or detection_config.idle_timeout_ms is None
            or self._turn is not None
            or self._detector.in_speech
            or self._busy()
        ):
            self._quiet_since_ms = position_ms
            return None
        if position_ms - self._quiet_since_ms < detection_config.idle_timeout_ms:
            return None
        turn = self._new_turn(audio_start_ms=self._quiet_since_ms)
        turn.audio_end_ms = position_ms
        turn.audio = np.zeros(0, dtype=np.int16)
        turn.timeline.user_item_id = turn.item_id
        self._quiet_since_ms = position_ms
        return TurnSignal("idle_timeout", turn)

    def _signal(self, event: detection.TurnEvent) -> TurnSignal | None:
        if isinstance(event, detection.SpeechStarted):
            start_ms = event.audio_start_ms + self._detector_offset_ms
            self._turn = self._new_turn(audio_start_ms=start_ms)
            return TurnSignal("speech_started", self._turn)
        turn = self._turn
        if turn is None:
            return None
        if isinstance(event, detection.SilenceStarted):
            speech_end_ms = event.audio_ms + self._detector_offset_ms
            turn.speech_end_at = self._arrivals.arrival_of(speech_end_ms * PIPELINE_RATE_HZ // 1000)
            return TurnSignal("silence_started", turn)
        if isinstance(event, detection.SpeechResumed):
            return TurnSignal("speech_resumed", turn)
        self._turn = None
        self._stop(turn, event.utterance, event.audio_end_ms + self._detector_offset_ms)
        return TurnSignal("speech_stopped", turn)

    def speculate(self, turn: Turn, tasks: TaskSet) -> Speculation | None:
        """Guess the turn's transcript now, unless an earlier local guess still occupies the
        CPU (a remote one in flight costs nothing here, and an abandoned one is cancelled),
        or the policy says not to guess at all."""
        if not self.policy.enabled:
            return None
        last = self._last_speculation
        if last is not None and not last.cancellable and not last.transcription.done():
            return None
        self._last_speculation = turn.speculate(tasks, self._detector.utterance_so_far())
        return self._last_speculation

    def _new_turn(self, *, audio_start_ms: int = 0, manual: bool = False) -> Turn:
        return Turn(
            stt=self._stt,
            language=self._config.language,
            clock=self._clock,
            hints=TranscriptionHints(
                terms=self._config.vocabulary, prompt=self._config.transcription_prompt
            ),
            audio_start_ms=audio_start_ms,
            manual=manual,
        )

    def _stop(
        self,
        turn: Turn,
        audio: Audio,
        audio_end_ms: int,
        *,
        speech_samples: tuple[int, int] | None = None,
    ) -> None:
        turn.audio = audio
        turn.speech_samples = speech_samples or self._speech_within(turn, audio, audio_end_ms)
        turn.arrival = self._arrival_stats.take()
        self._quiet_since_ms = audio_end_ms
        turn.timeline.user_item_id = turn.item_id
        turn.audio_end_ms = audio_end_ms
        turn.speech_stopped_at_s = self._clock.monotonic()
        turn.timeline.speech_stopped_at = turn.speech_stopped_at_s
        turn.timeline.audio_in_s = _duration_s(audio)
        if turn.timeline.speech_end_at is None:
            turn.timeline.speech_end_at = turn.speech_end_at

    def commit(self) -> Turn | None:
        """Make the buffered audio a turn (`input_audio_buffer.commit`); None if there is none."""
        # Audio still in the backlog (or short of a front-end hop) belongs to the buffer
        # being committed.
        rest = self._front_end.flush()
        if len(rest):
            self._arrivals.audio_arrived(len(rest), self._clock.monotonic())
            self._backlog.append(rest)
            self._backlog_samples += len(rest)
        for signal in self._drain_backlog():
            logger.debug("turn signal %s superseded by a manual commit", signal.kind)
        manual = self._config.turn_detection is None
        turn, self._turn = self._turn or self._new_turn(manual=manual), None
        audio = self._detector.commit()
        if len(audio) == 0:
            return None
        turn.audio_start_ms = max(0, self._arrivals.total_ms - round(_duration_s(audio) * 1000))
        turn.speech_end_at = self._clock.monotonic()
        # A manual commit carries no segmentation: the whole buffer counts as speech.
        self._stop(turn, audio, self._arrivals.total_ms, speech_samples=(0, len(audio)))
        return turn

    def _speech_within(self, turn: Turn, audio: Audio, audio_end_ms: int) -> tuple[int, int]:
        """Where the VAD heard words in a detected turn's audio: after the prefix padding and
        before the end-of-turn silence (both unvoiced by the VAD's own decision)."""
        detection_config = self._config.turn_detection
        if detection_config is None:
            return (0, len(audio))
        utterance_start_ms = audio_end_ms - round(_duration_s(audio) * 1000)
        start = (turn.audio_start_ms - utterance_start_ms) * PIPELINE_RATE_HZ // 1000
        end = len(audio) - detection_config.silence_duration_ms * PIPELINE_RATE_HZ // 1000
        start = min(max(start, 0), len(audio))
        return (start, max(start, end))

    def clear(self) -> None:
        self._backlog.clear()
        self._backlog_samples = 0
        self._detector.clear()
        if self._turn is not None:
            self._turn.abandon_speculation()
            self._turn = None
