"""One user turn: its audio, its timeline, its transcript guess and its final transcript.

An answer to the guess is not the turn's: the responder holds it (`speculative_answer.py`).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from voice.engine.errors import AuraError
from voice.engine.events import new_id
from voice.engine.observability.audio_quality import ArrivalQuality, InputQuality, input_quality
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.pipeline.phrases import PhraseTranscripts
from voice.engine.pipeline.speculation import Speculation
from voice.engine.pipeline.task_set import TaskSet
from voice.engine.ports import Clock
from voice.engine.stt.base import NO_HINTS, Transcript, TranscriptionHints, TranscriptionRequest

logger = logging.getLogger(__name__)

Audio = npt.NDArray[np.int16]


class Transcriber(Protocol):
    """A `SpeechToText` or an `STTRouter`."""

    @property
    def runs_locally(self) -> bool: ...

    async def transcribe(self, request: TranscriptionRequest) -> Transcript: ...


def has_words(text: str) -> bool:
    """Whether a transcript holds anything said (not only punctuation or blanks)."""
    return any(character.isalnum() for character in text)


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
    # Guesses are made of phrases transcribed once each (see `phrases.py`), not of the whole
    # utterance so far.
    phrase_wise: bool = False
    _phrases: PhraseTranscripts | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.phrase_wise:
            # Not a bound method: a turn and its phrases in a cycle would keep the turn's audio
            # alive until the cyclic collector runs.
            transcribe = functools.partial(_transcribe_phrase, self.stt, self.language)
            self._phrases = PhraseTranscripts(transcribe, self.hints, self.clock)

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
        """Start transcribing `audio` (the turn so far) in the background: all of it, or the
        phrase since the last guess (phrase-wise; the guess then waits for every phrase)."""
        self.abandon_speculation()
        timeline = TurnTimeline(
            speech_end_at=self.speech_end_at, user_item_id=self.item_id, speculative=True
        )
        if self._phrases is not None:
            self._phrases.add_up_to(tasks, audio)
            guess = self._phrases.joined(timeline)
        else:
            guess = self._guess(audio, timeline)
        task = tasks.spawn(guess, name="speculative-stt")
        self.speculation = Speculation(audio, timeline, task, cancellable=not self.stt.runs_locally)
        return self.speculation

    async def _guess(self, audio: Audio, timeline: TurnTimeline) -> Transcript | None:
        try:
            transcript = await self.stt.transcribe(self._request(audio))
        except AuraError as error:
            # The confirmed turn transcribes again and reports the failure properly.
            logger.warning("speculative transcription failed: %s", error.message)
            return None
        timeline.transcript_at = self.clock.monotonic()
        return transcript

    def _request(self, audio: Audio) -> TranscriptionRequest:
        return TranscriptionRequest(audio, language=self.language, hints=self.hints)

    def abandon_speculation(self) -> None:
        """Void the current guess (speech resumed): its phrases stay transcribed."""
        if self.speculation is not None:
            self.speculation.abandon()

    def discard(self) -> None:
        """Void the turn's guesses and stop transcribing its phrases (the turn is gone)."""
        self.abandon_speculation()
        if self._phrases is not None:
            self._phrases.cancel()

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
        self.discard()
        assert self.audio is not None
        transcript = await self.stt.transcribe(self._request(self.audio))
        self.timeline.transcript_at = self.clock.monotonic()
        return transcript


async def _transcribe_phrase(
    stt: Transcriber, language: str, audio: Audio, hints: TranscriptionHints
) -> Transcript:
    return await stt.transcribe(TranscriptionRequest(audio, language=language, hints=hints))
