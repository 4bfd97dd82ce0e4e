"""Client audio in any wire format, decoded into the 16 kHz pipeline stream."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voice.engine.audio.resample import StreamResampler
from voice.engine.audio.wire import validate_wire_format, wire_to_pcm16
from voice.engine.config import PIPELINE_RATE_HZ, AudioFormat


class InputAudioDecoder:
    """Turns a client's stream of wire bytes into 16 kHz int16 audio.

    Keeps resampler state between calls, so a stream split anywhere on sample boundaries decodes
    to the same audio as the whole; soxr holds back a few milliseconds until `flush`.
    """

    def __init__(self, fmt: AudioFormat) -> None:
        """Build a decoder for `fmt`; raises AudioFormatError for encodings or rates we refuse."""
        self.format = validate_wire_format(fmt)
        self._resampler = StreamResampler(fmt.sample_rate_hz, PIPELINE_RATE_HZ)

    def decode(self, data: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
        """Decode one chunk of wire bytes; raises AudioFormatError on partial PCM16 samples."""
        return self._resampler.process(wire_to_pcm16(data, self.format))

    def flush(self) -> npt.NDArray[np.int16]:
        """Return the audio the resampler still holds (end of stream or commit) and reset."""
        return self._resampler.process(np.zeros(0, dtype=np.int16), last=True)

    def reset(self) -> None:
        """Drop audio held in the resampler (buffer cleared by the client)."""
        self._resampler.reset()
