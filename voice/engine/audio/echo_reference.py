"""What the client's speaker plays, as a reference signal for the echo guard (echo.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice.engine.audio.resample import resample
from voice.engine.config import PIPELINE_RATE_HZ

Audio = npt.NDArray[np.int16]


class PlayedAudio:
    """An output item's audio at 16 kHz: what the client's speaker plays for it."""

    def __init__(self) -> None:
        self._data = bytearray()

    def append(self, pcm: Audio, rate_hz: int) -> None:
        chunk = resample(pcm, rate_hz, PIPELINE_RATE_HZ) if rate_hz != PIPELINE_RATE_HZ else pcm
        self._data += chunk.astype("<i2").tobytes()

    def ending_at(self, position_ms: float, count: int) -> Audio:
        """The `count` samples that end at `position_ms` (zeros before the item's start)."""
        end = max(0, min(len(self._data) // 2, round(position_ms * PIPELINE_RATE_HZ / 1000)))
        start = max(0, end - count)
        segment = np.frombuffer(self._data[2 * start : 2 * end], dtype="<i2").astype(np.int16)
        if len(segment) < count:
            segment = np.concatenate([np.zeros(count - len(segment), dtype=np.int16), segment])
        return segment


@dataclass(slots=True)
class _Source:
    audio: PlayedAudio
    heard_ms: Callable[[], float]
    last_heard_ms: float = 0.0


class EchoReference:
    """What the client's speaker plays, as 16 kHz samples on the microphone's clock.

    Each microphone chunk that arrives is matched with the audio that ends at the play head
    now; the guard's lag search absorbs the constant part of the misalignment (uplink delay,
    sound card), and its per-frame test the jitter.
    """

    def __init__(self, sources_kept: int = 2, *, client_cancels_echo: bool = False) -> None:
        self._sources: list[_Source] = []
        self._kept = sources_kept
        # The client says its capture cancels echo (a browser's getUserMedia with
        # echoCancellation): the guard believes it until it hears otherwise.
        self.client_cancels_echo = client_cancels_echo

    def playing(self, audio: PlayedAudio, heard_ms: Callable[[], float]) -> None:
        """A new output item: its audio and its play head (`PlaybackClock.heard_ms`)."""
        self._sources.append(_Source(audio, heard_ms))
        del self._sources[: -self._kept]

    def samples_for(self, count: int) -> Audio | None:
        """The reference for the next `count` microphone samples; None when nothing plays."""
        reference: Audio | None = None
        for source in self._sources:
            heard_ms = source.heard_ms()
            advanced = heard_ms > source.last_heard_ms
            source.last_heard_ms = heard_ms
            if not advanced:
                continue
            segment = source.audio.ending_at(heard_ms, count)
            reference = segment if reference is None else reference + segment
        return reference
