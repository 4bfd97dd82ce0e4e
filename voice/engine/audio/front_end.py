"""The input front end: what the microphone's audio goes through before VAD and STT.

decoded 16 kHz audio → echo guard (the assistant's own voice from the client's speaker is
silenced; `echo.py`) → noise suppression and gain (`audio.input.noise_reduction`; `noise.py`)
→ turn detection and transcription. Echo comes first, as in WebRTC's own chain: suppressing
noise first would change the echo that the guard compares with what was played.

Both stages work on whole 10 ms hops; the front end keeps the remainder of a chunk for the
next one, so turn detection sees audio at most 10 ms late. Both are cheap enough for the event
loop (tens of microseconds per hop; bench/noise.py measures them).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voice.engine.audio.echo import HOP_SAMPLES, EchoGuard
from voice.engine.audio.echo_reference import EchoReference
from voice.engine.audio.noise import NoiseSuppressor
from voice.engine.config import AgentConfig

Audio = npt.NDArray[np.int16]


class InputFrontEnd:
    """Echo guard and noise suppression, as the config asks, over a stream of chunks."""

    def __init__(self, config: AgentConfig, reference: EchoReference | None) -> None:
        self._reference = reference if config.echo_guard else None
        self._guard = (
            EchoGuard(assume_no_echo=self._reference.client_cancels_echo)
            if self._reference is not None
            else None
        )
        self._suppressor = (
            NoiseSuppressor(config.noise_reduction) if config.noise_reduction else None
        )
        self._pending = np.zeros(0, dtype=np.int16)

    @property
    def passes_through(self) -> bool:
        return self._guard is None and self._suppressor is None

    def reconfigured(self, config: AgentConfig) -> InputFrontEnd:
        """This front end, or a new one if the config changed what it does."""
        wants_guard = config.echo_guard and self._reference is not None
        same_guard = wants_guard == (self._guard is not None)
        current_mode = self._suppressor.mode if self._suppressor is not None else None
        if same_guard and current_mode == config.noise_reduction:
            return self
        successor = InputFrontEnd(config, self._reference)
        successor._pending = self._pending
        if same_guard:
            successor._guard = self._guard
        return successor

    def process(self, audio: Audio) -> Audio:
        """The processed audio for the whole hops received so far, in order."""
        if self.passes_through and not len(self._pending):
            return audio
        samples = np.concatenate([self._pending, audio]) if len(self._pending) else audio
        usable = len(samples) - len(samples) % HOP_SAMPLES
        self._pending = samples[usable:].copy()
        hops = samples[:usable]
        if self._guard is not None and self._reference is not None and usable:
            hops = self._guard.process(hops, self._reference.samples_for(usable))
        if self._suppressor is not None:
            hops = self._suppressor.process(hops)
        return hops

    def flush(self) -> Audio:
        """The samples short of a whole hop, as they came (a manual commit takes them)."""
        pending, self._pending = self._pending, np.zeros(0, dtype=np.int16)
        return pending
