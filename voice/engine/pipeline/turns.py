"""User turns: input decoding, turn detection and speculative transcription.

`UserTurns` turns wire audio into turn signals, each a moment of one `Turn` (`user_turn.py`):
the turn detector's own events (`SpeechStarted`, `SilenceStarted`, `PauseHeld`,
`SpeechResumed`, `SpeechStopped`, with their times on the session's audio clock) and
`IdleTimeout`. During the end-of-turn silence a turn can `speculate`: its audio so far is
transcribed in the background (whole, or phrase by phrase: `phrases.py`), so that when the
silence is confirmed the transcript is (nearly) ready; speech resuming abandons the guess.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice.engine.audio.decoder import InputAudioDecoder
from voice.engine.audio.echo_reference import EchoReference
from voice.engine.audio.front_end import InputFrontEnd
from voice.engine.config import PIPELINE_RATE_HZ, AgentConfig, TurnDetectionConfig
from voice.engine.errors import InvalidRequestError
from voice.engine.observability.audio_quality import ArrivalStats
from voice.engine.observability.turn_metrics import ArrivalClock
from voice.engine.pipeline.speculation import Speculation, SpeculationPolicy, speculation_policy
from voice.engine.pipeline.task_set import TaskSet
from voice.engine.pipeline.user_turn import Transcriber, Turn
from voice.engine.ports import Clock
from voice.engine.stt.base import TranscriptionHints
from voice.engine.vad import turn_detector as detection
from voice.engine.vad.base import VoiceActivityDetector
from voice.engine.vad.factory import make_vad

logger = logging.getLogger(__name__)

Audio = npt.NDArray[np.int16]

# Audio waiting for the turn detector; more means the session is stuck (events unread).
MAX_BACKLOG_S = 30


def _duration_s(audio: Audio) -> float:
    return len(audio) / PIPELINE_RATE_HZ


@dataclass(frozen=True, slots=True)
class IdleTimeout:
    """No speech for `idle_timeout_ms`: the quiet from `audio_start_ms` is a turn of its own."""

    audio_start_ms: int
    audio_end_ms: int


TurnMoment = detection.TurnEvent | IdleTimeout


@dataclass(frozen=True, slots=True)
class TurnSignal:
    moment: TurnMoment
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
        vad_factory: Callable[[TurnDetectionConfig], VoiceActivityDetector] = make_vad,
    ) -> None:
        self._clock = clock
        # Builds the voice-activity detector of each new turn detector (tests script one).
        self._vad_factory = vad_factory
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
        config = self._config.turn_detection
        vad = self._vad_factory(config) if config is not None else None
        policy = self.policy
        return detection.TurnDetector(
            config, vad, pause_ms=policy.pause_ms, hold_ms=policy.answer_pause_ms
        )

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
            policy = self.policy
            pauses = (policy.pause_ms, policy.answer_pause_ms)
            if (previous_policy.pause_ms, previous_policy.answer_pause_ms) != pauses:
                self._detector.set_pause_ms(*pauses)
        else:
            self._detector = self._new_detector()
            # A new detector counts from zero (from the audio it has not seen yet); session
            # times count from the session's first sample.
            unseen_samples = self._arrivals.total_samples - self._backlog_samples
            self._detector_offset_ms = unseen_samples * 1000 // PIPELINE_RATE_HZ
            if self._turn is not None:
                self._turn.discard()
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
        return TurnSignal(IdleTimeout(turn.audio_start_ms, turn.audio_end_ms), turn)

    def _signal(self, event: detection.TurnEvent) -> TurnSignal | None:
        # A new detector counts from zero (see `reconfigure`): its times move to the session's.
        offset_ms = self._detector_offset_ms
        if isinstance(event, detection.SpeechStarted):
            started = detection.SpeechStarted(event.audio_start_ms + offset_ms)
            self._turn = self._new_turn(audio_start_ms=started.audio_start_ms)
            return TurnSignal(started, self._turn)
        turn = self._turn
        if turn is None:
            return None
        if isinstance(event, detection.SilenceStarted):
            silence = detection.SilenceStarted(event.audio_ms + offset_ms)
            speech_end_sample = silence.audio_ms * PIPELINE_RATE_HZ // 1000
            turn.speech_end_at = self._arrivals.arrival_of(speech_end_sample)
            return TurnSignal(silence, turn)
        if isinstance(event, detection.PauseHeld):
            return TurnSignal(detection.PauseHeld(event.audio_ms + offset_ms), turn)
        if isinstance(event, detection.SpeechResumed):
            return TurnSignal(detection.SpeechResumed(event.audio_ms + offset_ms), turn)
        self._turn = None
        stopped = detection.SpeechStopped(event.audio_end_ms + offset_ms, event.utterance)
        self._stop(turn, stopped.utterance, stopped.audio_end_ms)
        return TurnSignal(stopped, turn)

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
            phrase_wise=self.policy.phrase_wise,
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
            logger.debug(
                "turn signal %s superseded by a manual commit", type(signal.moment).__name__
            )
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
            self._turn.discard()
            self._turn = None
