"""Guessing a turn's transcript and answer before its end is confirmed: the policy and the guess.

Speculation buys latency: the transcript (and the start of the answer) is computed during the
end-of-turn silence. Every pause in the middle of a sentence that is long enough starts a guess
that the next word abandons. A local STT pays for that in CPU only, and cheaply; a remote one
is billed per second of audio uploaded, and an abandoned speculative answer's tokens are
billed too.

- "eager": guess at every pause from `EAGER_PAUSE_MS` of silence on, answer every guess
  (the lowest latency; each guess re-transcribes the whole utterance so far);
- "phrases": transcribe each phrase once, from `EAGER_PAUSE_MS` of a pause on, and only the
  audio no earlier phrase holds (the guess is the phrases' texts joined, so every second of
  audio is sent once, in a request per phrase: `phrases.py`), and answer one guess per turn,
  once its pause has lasted `THRIFTY_SHARE` of `silence_duration_ms`;
- "thrifty": one guess of the whole utterance per pause that has lasted `THRIFTY_SHARE` of
  `silence_duration_ms`, and one answer per turn (about one request of each kind per turn);
- "off": no guesses; the transcript starts when the turn has ended;
- "auto" (the default): eager for a local STT, thrifty for a remote one.

Measured on the load benchmark's recording (docs/benchmarks.md): its mid-sentence pauses last
400 to 450 ms of the default 500 ms silence, so only a start at 90% tells them from the end.
That costs thrifty a later transcript and a later answer (~400 ms of voice to voice against
eager), "phrases" only the later answer (~150-240 ms), for a request per phrase and Whisper
hearing each phrase without the rest of the sentence (`bench/phrases.py`: the small local
model repeats a word of a 0.6 s phrase); thrifty, which hears the whole turn, stays the
remote default.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from voice.engine.config import AgentConfig, SpeculationMode
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.stt.base import Transcript

# The turn detector's pause: about half of a lecture's breath pauses are shorter.
EAGER_PAUSE_MS = 100
THRIFTY_SHARE = 0.9


@dataclass(frozen=True, slots=True)
class SpeculationPolicy:
    mode: SpeculationMode
    # Silence after speech before a pause may start a guess (the detector's `pause_ms`).
    pause_ms: int
    # Speculative answers one turn may start; None: no limit.
    max_answers_per_turn: int | None
    enabled: bool = True
    # Silence after speech before a guess may be answered (the detector's `hold_ms`); None:
    # as soon as its transcript is in.
    answer_pause_ms: int | None = None
    # Transcribe only the audio since the last pause (see `phrases.py`) instead of the whole
    # utterance so far.
    phrase_wise: bool = False


def speculation_policy(config: AgentConfig, *, stt_runs_locally: bool) -> SpeculationPolicy:
    """The policy `config.speculation` names, "auto" resolved by the STT's kind."""
    mode = config.speculation
    if mode == "auto":
        mode = "eager" if stt_runs_locally else "thrifty"
    if mode == "eager":
        return SpeculationPolicy(mode, EAGER_PAUSE_MS, None)
    if mode == "off":
        return SpeculationPolicy(mode, EAGER_PAUSE_MS, 0, enabled=False)
    silence_ms = config.turn_detection.silence_duration_ms if config.turn_detection else 500
    late_ms = max(EAGER_PAUSE_MS, math.floor(THRIFTY_SHARE * silence_ms))
    if mode == "phrases":
        return SpeculationPolicy(mode, EAGER_PAUSE_MS, 1, answer_pause_ms=late_ms, phrase_wise=True)
    return SpeculationPolicy(mode, late_ms, 1)


@dataclass(slots=True)
class Speculation:
    """A transcript computed before the turn's end is confirmed (an answer to it, if any, is the
    responder's: see `speculative_answer.py`)."""

    audio: npt.NDArray[np.int16]
    timeline: TurnTimeline
    transcription: asyncio.Task[Transcript | None]
    # Whether abandoning it stops the transcription too (a remote provider's request).
    cancellable: bool = False
    abandoned: bool = False
    # Told once when the guess is abandoned (an answer prepared for it is void then).
    _on_abandon: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)

    async def transcript(self) -> Transcript | None:
        """The guessed transcript; None if it failed or was cancelled with the speculation."""
        try:
            return await asyncio.shield(self.transcription)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.transcription.cancelled() and (current is None or not current.cancelling()):
                return None
            raise

    def when_abandoned(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the guess is abandoned (now, if it already is)."""
        if self.abandoned:
            callback()
        else:
            self._on_abandon.append(callback)

    def abandon(self) -> None:
        # A local transcription keeps running: its thread cannot be stopped, and while it
        # runs the CPU is not free for another guess. A remote one is cancelled, so that it
        # neither costs an upload's worth of work nor holds back the next guess.
        self.abandoned = True
        if self.cancellable:
            self.transcription.cancel()
        callbacks, self._on_abandon = self._on_abandon, []
        for callback in callbacks:
            callback()
