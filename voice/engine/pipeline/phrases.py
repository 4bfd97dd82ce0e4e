"""Phrase-wise transcription: each pause transcribes only the audio since the previous one.

A remote STT bills every second of audio it receives. Guessing the whole utterance again at
each pause (the eager policy) uploads its first phrase once per pause; here the utterance is
cut where it pauses (`EAGER_PAUSE_MS` into the silence, so no word is split), each phrase is
transcribed once, with the text of the phrases before it as the provider's prompt (spelling
and casing carry on across the cut), and the turn's transcript is the phrases' texts joined.
Speech resuming leaves the phrases already transcribed as they are: only the guess made of
them is void, and the next pause adds one phrase.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice.engine.config import PIPELINE_RATE_HZ
from voice.engine.errors import AuraError
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.pipeline.task_set import TaskSet
from voice.engine.ports import Clock
from voice.engine.stt.base import Transcript, TranscriptionHints

logger = logging.getLogger(__name__)

Audio = npt.NDArray[np.int16]
Transcribe = Callable[[Audio, TranscriptionHints], Awaitable[Transcript]]

# OpenAI refuses audio shorter than 0.1 s; a shorter rest waits for the next phrase.
MIN_PHRASE_SAMPLES = PIPELINE_RATE_HZ // 10
# Whisper reads the last 224 tokens of a prompt; the earlier text is context enough.
MAX_CONTEXT_CHARACTERS = 600


@dataclass(slots=True)
class Phrase:
    # Where it ends, in samples from the utterance's start.
    end: int
    transcription: asyncio.Task[Transcript | None]

    def text(self) -> str | None:
        """Its transcript's text if it is in (None while running, cancelled or failed)."""
        task = self.transcription
        if not task.done() or task.cancelled():
            return None
        result = task.result()
        return None if result is None else result.text.strip()


class PhraseTranscripts:
    """The phrases of one turn, each transcribed once.

    Args:
        transcribe: Transcribes one phrase with the hints given (the turn's STT).
        hints: The turn's own hints; the earlier phrases' text is added to their prompt.
        clock: Stamps the guess's `transcript_at`.
    """

    def __init__(self, transcribe: Transcribe, hints: TranscriptionHints, clock: Clock) -> None:
        self._transcribe = transcribe
        self._hints = hints
        self._clock = clock
        self._phrases: list[Phrase] = []

    @property
    def transcribed_samples(self) -> int:
        """Samples of the utterance that a phrase holds (sent or transcribed)."""
        return self._phrases[-1].end if self._phrases else 0

    def add_up_to(self, tasks: TaskSet, utterance: Audio) -> None:
        """Start transcribing `utterance` (the turn so far) past the last phrase."""
        start = self.transcribed_samples
        if len(utterance) - start < MIN_PHRASE_SAMPLES:
            return
        phrase = utterance[start:]
        task = tasks.spawn(self._phrase(phrase, self._context()), name="phrase-stt")
        self._phrases.append(Phrase(len(utterance), task))

    async def joined(self, timeline: TurnTimeline) -> Transcript | None:
        """The utterance's transcript so far, once every phrase is in; None if one failed
        (the confirmed turn is then transcribed whole)."""
        phrases = list(self._phrases)
        if not phrases:
            return None
        # `wait` neither raises for a failed phrase nor cancels one when the guess is.
        await asyncio.wait([phrase.transcription for phrase in phrases])
        transcripts: list[Transcript] = []
        for phrase in phrases:
            result = None if phrase.transcription.cancelled() else phrase.transcription.result()
            if result is None:
                return None
            transcripts.append(result)
        timeline.transcript_at = self._clock.monotonic()
        return _join(transcripts)

    def cancel(self) -> None:
        """Stop the phrases still being transcribed (the turn is void, or transcribed whole)."""
        for phrase in self._phrases:
            phrase.transcription.cancel()

    def _context(self) -> TranscriptionHints:
        """The turn's hints, the text of the phrases already in after their prompt."""
        texts = (phrase.text() for phrase in self._phrases)
        earlier = " ".join(text for text in texts if text)[-MAX_CONTEXT_CHARACTERS:]
        if not earlier:
            return self._hints
        prompt = " ".join(part for part in (self._hints.prompt.strip(), earlier) if part)
        return dataclasses.replace(self._hints, prompt=prompt)

    async def _phrase(self, audio: Audio, hints: TranscriptionHints) -> Transcript | None:
        try:
            return await self._transcribe(audio, hints)
        except AuraError as error:
            logger.warning("phrase transcription failed: %s", error.message)
            return None


def _join(transcripts: list[Transcript]) -> Transcript:
    texts = (transcript.text.strip() for transcript in transcripts)
    return Transcript(
        text=" ".join(text for text in texts if text),
        language=transcripts[0].language,
        audio_duration_s=sum(transcript.audio_duration_s for transcript in transcripts),
        route=transcripts[-1].route,
    )
