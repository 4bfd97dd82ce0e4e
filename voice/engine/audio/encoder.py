"""Synthesised audio cut into fixed-length frames of the client's wire format."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voice.engine.audio.pcm import require_int16_mono
from voice.engine.audio.resample import StreamResampler
from voice.engine.audio.wire import pcm16_to_wire, validate_wire_format
from voice.engine.config import AudioFormat
from voice.engine.errors import AudioFormatError

_MIN_FRAME_MS = 5
_MAX_FRAME_MS = 1_000


class OutputAudioEncoder:
    """Resamples TTS audio to the wire rate and emits only whole `frame_ms` frames.

    Fixed frames keep pacing and truncation arithmetic exact: every frame is exactly
    `frame_ms` long, and the remainder waits for the next chunk or for `flush`.
    """

    def __init__(self, fmt: AudioFormat, *, source_rate_hz: int, frame_ms: int = 20) -> None:
        """Build an encoder from `source_rate_hz` audio to `fmt` frames.

        Raises:
            AudioFormatError: an unsupported wire format, source rate or frame length.
        """
        self.format = validate_wire_format(fmt)
        if not _MIN_FRAME_MS <= frame_ms <= _MAX_FRAME_MS:
            raise AudioFormatError(
                f"frame_ms must be between {_MIN_FRAME_MS} and {_MAX_FRAME_MS}; got {frame_ms}"
            )
        self.frame_ms = frame_ms
        self.frame_samples = fmt.sample_rate_hz * frame_ms // 1000
        self._resampler = StreamResampler(source_rate_hz, fmt.sample_rate_hz)
        self._pending = np.zeros(0, dtype=np.int16)

    def encode(self, chunk: npt.NDArray[np.int16]) -> list[bytes]:
        """Add a chunk of source audio; return the whole frames now available."""
        require_int16_mono(chunk)
        self._pending = np.concatenate((self._pending, self._resampler.process(chunk)))
        return self._take_whole_frames()

    def flush(self) -> list[bytes]:
        """Return all remaining audio as frames, the last padded with silence; then reset."""
        tail = self._resampler.process(np.zeros(0, dtype=np.int16), last=True)
        pending = np.concatenate((self._pending, tail))
        padding = -pending.size % self.frame_samples
        self._pending = np.concatenate((pending, np.zeros(padding, dtype=np.int16)))
        return self._take_whole_frames()

    def reset(self) -> None:
        """Drop all buffered audio (barge-in: nothing more of this answer will be sent)."""
        self._resampler.reset()
        self._pending = np.zeros(0, dtype=np.int16)

    @property
    def buffered_ms(self) -> float:
        """Audio waiting for a whole frame, in milliseconds at the wire rate."""
        return self._pending.size * 1000 / self.format.sample_rate_hz

    def _take_whole_frames(self) -> list[bytes]:
        whole_samples = self._pending.size - self._pending.size % self.frame_samples
        frames = [
            pcm16_to_wire(self._pending[start : start + self.frame_samples], self.format)
            for start in range(0, whole_samples, self.frame_samples)
        ]
        self._pending = self._pending[whole_samples:].copy()
        return frames
