"""Turn detection: speech start and end of turn from per-frame VAD decisions.

Each turn is `SpeechStarted`, then `SilenceStarted` whenever speech pauses, `SpeechResumed`
if it comes back within `silence_duration_ms`, and finally `SpeechStopped` (always right after
a `SilenceStarted`). With `hold_ms` set, a pause that lasts that long is also `PauseHeld`
(between its `SilenceStarted` and what ends it). Timestamps are on the audio clock (16 kHz
samples since the stream started, reported in ms), never the wall clock, so they are exact
whatever the network jitter and chunk sizes.

Memory is bounded: while nobody speaks only `prefix_padding_ms` plus `min_speech_duration_ms`
of audio is kept; a turn longer than `max_utterance_ms` (60 s by default, ~1.9 MB of 16 kHz
PCM16) is ended there (`SilenceStarted` and `SpeechStopped` at the cut) and the speech that
follows becomes a new turn, so a monologue is cut into utterances rather than dropped. In
manual mode audio older than `max_utterance_ms` before the commit is dropped (and logged).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from voice.engine.audio.pcm import pcm16_to_bytes, require_int16_mono
from voice.engine.config import PIPELINE_RATE_HZ, TurnDetectionConfig
from voice.engine.errors import InvalidRequestError
from voice.engine.vad.base import VoiceActivityDetector
from voice.engine.vad.factory import make_vad

logger = logging.getLogger(__name__)

DEFAULT_MAX_UTTERANCE_MS = 60_000
# Once speech has started a lower bar keeps it going (Silero's own 0.5 / 0.35 hysteresis), so
# a soft syllable does not open a pause; WebRTC's 0/1 answers are unaffected.
CONTINUE_THRESHOLD_RATIO = 0.7
# Accepted config ranges; the upper bounds stop a hostile session.update from making the
# buffers unbounded.
_LIMITS: tuple[tuple[str, float, float], ...] = (
    ("threshold", 0.0, 1.0),
    ("prefix_padding_ms", 0, 10_000),
    ("silence_duration_ms", 1, 60_000),
    ("min_speech_duration_ms", 0, 10_000),
)


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech has lasted `min_speech_duration_ms`; it began at `audio_start_ms`."""

    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SilenceStarted:
    """Speech seems to pause from `audio_ms` on (time to start speculative transcription)."""

    audio_ms: int


@dataclass(frozen=True, slots=True)
class PauseHeld:
    """The pause that started at `audio_ms` has lasted the detector's `hold_ms`: the turn is
    now likely to be ending (time for a speculation that costs tokens)."""

    audio_ms: int


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """The pause ended at `audio_ms` before the turn did: speculation is void."""

    audio_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """The turn ended at `audio_end_ms` (last speech + silence); `utterance` is its audio."""

    audio_end_ms: int
    # Prefix padding, the speech and the trailing silence, 16 kHz int16.
    utterance: npt.NDArray[np.int16] = field(compare=False, repr=False)


TurnEvent = SpeechStarted | SilenceStarted | PauseHeld | SpeechResumed | SpeechStopped


def samples_to_ms(samples: int) -> int:
    return samples * 1000 // PIPELINE_RATE_HZ


def ms_to_samples(duration_ms: int) -> int:
    return duration_ms * PIPELINE_RATE_HZ // 1000


@dataclass(frozen=True, slots=True)
class _FrameRules:
    """The config translated into frame counts of one detector."""

    frame_samples: int
    start_threshold: float
    continue_threshold: float
    # Speech starts after this many voiced frames in a row: "lasted min_speech_duration_ms".
    # Not a majority vote: WebRTC's hangover stretches a 100 ms click to ~160 ms of voiced
    # frames, which a vote would let through.
    start_frames: int
    pause_frames: int
    # Frames of a pause before `PauseHeld`; None: never.
    hold_frames: int | None
    resume_frames: int
    prefix_samples: int
    silence_samples: int

    @classmethod
    def build(
        cls,
        config: TurnDetectionConfig,
        frame_samples: int,
        pause_ms: int,
        resume_ms: int,
        hold_ms: int | None = None,
    ) -> _FrameRules:
        frame_ms = frame_samples * 1000 / PIPELINE_RATE_HZ
        silence_samples = ms_to_samples(config.silence_duration_ms)
        silence_frames = max(1, math.ceil(silence_samples / frame_samples))
        return cls(
            frame_samples=frame_samples,
            start_threshold=config.threshold,
            continue_threshold=config.threshold * CONTINUE_THRESHOLD_RATIO,
            start_frames=max(1, math.ceil(config.min_speech_duration_ms / frame_ms)),
            # SilenceStarted must come before SpeechStopped, however short the silence.
            pause_frames=min(max(1, math.ceil(pause_ms / frame_ms)), silence_frames),
            # Likewise PauseHeld, after SilenceStarted.
            hold_frames=None
            if hold_ms is None
            else min(max(1, math.ceil(hold_ms / frame_ms)), silence_frames),
            resume_frames=max(1, math.ceil(resume_ms / frame_ms)),
            prefix_samples=ms_to_samples(config.prefix_padding_ms),
            silence_samples=silence_samples,
        )


class _AudioHistory:
    """Received audio addressed by absolute sample index; the oldest part can be dropped."""

    def __init__(self) -> None:
        # bytearray: appends are amortised O(1) and CPython drops its head without copying.
        self._data = bytearray()
        self.start_sample = 0

    @property
    def end_sample(self) -> int:
        return self.start_sample + len(self._data) // 2

    def append(self, audio: npt.NDArray[np.int16]) -> None:
        self._data += pcm16_to_bytes(audio)

    def slice(self, from_sample: int, to_sample: int) -> npt.NDArray[np.int16]:
        first = 2 * (max(from_sample, self.start_sample) - self.start_sample)
        last = 2 * (min(to_sample, self.end_sample) - self.start_sample)
        # Slicing a bytearray copies, so no view pins the buffer against later trimming.
        return np.frombuffer(self._data[first:last], dtype="<i2").astype(np.int16)

    def drop_before(self, sample: int) -> None:
        count = min(sample, self.end_sample) - self.start_sample
        if count > 0:
            del self._data[: 2 * count]
            self.start_sample += count

    def restart(self, at_sample: int) -> None:
        self._data = bytearray()
        self.start_sample = at_sample


class TurnDetector:
    """Finds where user turns start, pause, resume and end in a 16 kHz stream.

    Feed audio of any chunk size to `process`; it buffers to the detector's frame size, so the
    events do not depend on how the audio was split. With `config=None` (turn detection off)
    nothing is detected and the client decides turns with `commit` and `clear`.

    Args:
        config: Thresholds and durations (OpenAI `server_vad` semantics), or None for manual.
        vad: The detector to use; built from `config` when omitted.
        max_utterance_ms: Longest turn; longer speech is cut into several turns here.
        pause_ms: Unvoiced time after speech before `SilenceStarted`. Each one may start a
            speculative transcription; 100 ms skips about half of a lecture's breath pauses
            (measured on lecture60.wav) and still leaves 400 ms of the default 500 ms silence.
        resume_ms: Voiced time within a pause before `SpeechResumed` (ignores isolated blips).
        hold_ms: Unvoiced time after speech before `PauseHeld`; None: no such event.

    Raises:
        InvalidRequestError: a config value is out of range.
    """

    def __init__(
        self,
        config: TurnDetectionConfig | None,
        vad: VoiceActivityDetector | None = None,
        *,
        max_utterance_ms: int = DEFAULT_MAX_UTTERANCE_MS,
        pause_ms: int = 100,
        resume_ms: int = 60,
        hold_ms: int | None = None,
    ) -> None:
        self.config = config
        self._max_utterance_samples = ms_to_samples(max_utterance_ms)
        self._history = _AudioHistory()
        self._vad: VoiceActivityDetector | None = None
        if config is not None:
            _validate(config)
            self._vad = vad if vad is not None else make_vad(config)
        self._resume_ms = resume_ms
        self._hold_ms = hold_ms
        self._rules = self._build_rules(pause_ms)
        self._restart_at(0)

    def _build_rules(self, pause_ms: int) -> _FrameRules:
        # Manual mode classifies nothing; its rules exist only to keep the types simple.
        return _FrameRules.build(
            self.config or TurnDetectionConfig(),
            self._vad.frame_samples if self._vad is not None else 1,
            pause_ms,
            self._resume_ms,
            self._hold_ms,
        )

    def set_pause_ms(self, pause_ms: int, hold_ms: int | None = None) -> None:
        """Change how long a pause lasts before `SilenceStarted` (and `PauseHeld`), keeping the
        stream's state (a pause under way is judged by the new lengths from its next frame on)."""
        self._hold_ms = hold_ms
        self._rules = self._build_rules(pause_ms)

    @property
    def in_speech(self) -> bool:
        """True from `SpeechStarted` until `SpeechStopped` (pauses included)."""
        return self._utterance_start is not None

    @property
    def processed_ms(self) -> int:
        """Audio clock: how much audio has been classified, in ms since the stream started."""
        return samples_to_ms(self._classified_end)

    def process(self, audio_16k: npt.NDArray[np.int16]) -> list[TurnEvent]:
        """Add audio of any length; return the events it completes, in audio order.

        Raises:
            AudioFormatError: the audio is not 1-D int16.
        """
        require_int16_mono(audio_16k)
        self._history.append(audio_16k)
        events: list[TurnEvent] = []
        if self._vad is None:
            self._bound_manual_buffer()
            return events
        rules = self._rules
        while self._history.end_sample - self._classified_end >= rules.frame_samples:
            frame_start = self._classified_end
            self._classified_end += rules.frame_samples
            frame = self._history.slice(frame_start, self._classified_end)
            probability = self._vad.speech_probability(frame)
            threshold = rules.continue_threshold if self.in_speech else rules.start_threshold
            voiced = probability >= threshold
            events.extend(self._on_frame(voiced))
        self._drop_unneeded_history()
        return events

    def utterance_so_far(self) -> npt.NDArray[np.int16]:
        """The audio `SpeechStopped` would carry if the turn ended now (empty outside speech)."""
        if self._utterance_start is None:
            return np.zeros(0, dtype=np.int16)
        return self._history.slice(self._utterance_start, self._history.end_sample)

    def commit(self) -> npt.NDArray[np.int16]:
        """End the turn by hand and return its audio.

        In manual mode that is everything since the last commit or clear; with turn detection
        on it is the current utterance (empty outside speech).
        """
        if self._vad is None:
            audio = self._history.slice(self._history.start_sample, self._history.end_sample)
        else:
            audio = self.utterance_so_far()
        self.clear()
        return audio

    def clear(self) -> None:
        """Drop buffered audio and any turn in progress; the audio clock keeps running."""
        self._restart_at(self._history.end_sample)

    def reset(self) -> None:
        """Start a new stream: clock back to zero, buffers and detector state forgotten."""
        if self._vad is not None:
            self._vad.reset()
        self._restart_at(0)

    def _restart_at(self, sample: int) -> None:
        self._history.restart(sample)
        # Frames are classified on a grid from here; no turn may reach back before it.
        self._classified_end = sample
        self._floor_sample = sample
        self._utterance_start: int | None = None
        self._last_speech_end = sample
        self._paused = False
        self._held = False
        self._unvoiced_run = 0
        self._voiced_run = 0
        self._overflow_logged = False

    def _on_frame(self, voiced: bool) -> list[TurnEvent]:
        if self._utterance_start is None:
            return self._on_idle_frame(voiced)
        return self._on_speech_frame(voiced)

    def _on_idle_frame(self, voiced: bool) -> list[TurnEvent]:
        self._voiced_run = self._voiced_run + 1 if voiced else 0
        if self._voiced_run < self._rules.start_frames:
            return []
        speech_start = self._classified_end - self._voiced_run * self._rules.frame_samples
        self._utterance_start = max(speech_start - self._rules.prefix_samples, self._floor_sample)
        self._last_speech_end = self._classified_end
        self._voiced_run = 0
        self._unvoiced_run = 0
        self._paused = False
        logger.debug("speech started at %d ms", samples_to_ms(speech_start))
        return [SpeechStarted(samples_to_ms(speech_start))]

    def _on_speech_frame(self, voiced: bool) -> list[TurnEvent]:
        frame_end = self._classified_end
        events = self._while_paused(voiced) if self._paused else self._while_speaking(voiced)
        assert self._utterance_start is not None
        if frame_end - self._last_speech_end >= self._rules.silence_samples:
            events.append(self._stop(frame_end))
        elif frame_end - self._utterance_start >= self._max_utterance_samples:
            logger.info("turn cut at the %d ms utterance limit", samples_to_ms(frame_end))
            if not self._paused:
                events.append(SilenceStarted(samples_to_ms(frame_end)))
            events.append(self._stop(frame_end))
        return events

    def _while_speaking(self, voiced: bool) -> list[TurnEvent]:
        if voiced:
            self._last_speech_end = self._classified_end
            self._unvoiced_run = 0
            return []
        self._unvoiced_run += 1
        if self._unvoiced_run < self._rules.pause_frames:
            return []
        self._paused = True
        self._held = False
        self._voiced_run = 0
        return [SilenceStarted(samples_to_ms(self._last_speech_end)), *self._hold()]

    def _while_paused(self, voiced: bool) -> list[TurnEvent]:
        self._voiced_run = self._voiced_run + 1 if voiced else 0
        if self._voiced_run < self._rules.resume_frames:
            return self._hold()
        resumed_at = self._classified_end - self._voiced_run * self._rules.frame_samples
        self._paused = False
        self._unvoiced_run = 0
        self._voiced_run = 0
        self._last_speech_end = self._classified_end
        return [SpeechResumed(samples_to_ms(resumed_at))]

    def _hold(self) -> list[TurnEvent]:
        """`PauseHeld`, once per pause, when it has lasted `hold_frames` and this frame is
        unvoiced (a voiced one may be speech resuming: it is held on the next unvoiced one)."""
        hold_frames = self._rules.hold_frames
        if hold_frames is None or self._held or self._voiced_run:
            return []
        if self._classified_end - self._last_speech_end < hold_frames * self._rules.frame_samples:
            return []
        self._held = True
        return [PauseHeld(samples_to_ms(self._last_speech_end))]

    def _stop(self, frame_end: int) -> SpeechStopped:
        assert self._utterance_start is not None
        utterance = self._history.slice(self._utterance_start, frame_end)
        self._utterance_start = None
        self._paused = False
        self._voiced_run = 0
        self._unvoiced_run = 0
        self._floor_sample = frame_end
        logger.debug("speech stopped at %d ms", samples_to_ms(frame_end))
        return SpeechStopped(samples_to_ms(frame_end), utterance)

    def _drop_unneeded_history(self) -> None:
        if self._utterance_start is not None:
            self._history.drop_before(self._utterance_start)
            return
        # A turn confirmed on the next frame starts at most a start run back, plus its padding.
        rules = self._rules
        start_run_samples = rules.start_frames * rules.frame_samples
        keep_from = self._classified_end - start_run_samples - rules.prefix_samples
        self._history.drop_before(max(keep_from, self._floor_sample))

    def _bound_manual_buffer(self) -> None:
        excess = self._history.end_sample - self._history.start_sample
        excess -= self._max_utterance_samples
        if excess <= 0:
            return
        if not self._overflow_logged:
            logger.warning(
                "uncommitted input audio exceeds %d ms; dropping the oldest",
                samples_to_ms(self._max_utterance_samples),
            )
            self._overflow_logged = True
        self._history.drop_before(self._history.start_sample + excess)


def _validate(config: TurnDetectionConfig) -> None:
    for name, lowest, highest in _LIMITS:
        value = getattr(config, name)
        in_range = isinstance(value, int | float) and not isinstance(value, bool)
        if not in_range or not lowest <= value <= highest:
            raise InvalidRequestError(
                f"turn_detection.{name} must be between {lowest} and {highest}; got {value!r}",
                param=f"turn_detection.{name}",
            )
