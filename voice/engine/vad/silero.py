"""Silero VAD v6 (the ONNX file shipped inside faster-whisper) on 32 ms chunks at 16 kHz."""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime

from voice.engine.audio.pcm import int16_to_float32
from voice.engine.errors import AudioFormatError, ProviderUnavailableError
from voice.engine.vad.base import VoiceActivityDetector

logger = logging.getLogger(__name__)

CHUNK_SAMPLES = 512
# The model sees the tail of the previous chunk in front of each new one (as in training).
CONTEXT_SAMPLES = 64
_STATE_SHAPE = (1, 1, 128)


def silero_model_path() -> Path:
    """Where faster-whisper ships the Silero VAD v6 ONNX model."""
    # Located, not imported: importing faster-whisper would load CTranslate2 and PyAV too.
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise ProviderUnavailableError(
            "Silero VAD needs the faster-whisper package (it ships the model)",
            provider="silero",
            retryable=False,
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    return package_dir / "assets" / "silero_vad_v6.onnx"


@functools.cache
def _session() -> onnxruntime.InferenceSession:
    """One ONNX session per process; `run` is thread-safe and each detector keeps its state."""
    options = onnxruntime.SessionOptions()
    # ~0.15 ms per chunk, called inline from the event loop: threads would only add overhead.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    path = silero_model_path()
    if not path.is_file():
        raise ProviderUnavailableError(
            f"Silero VAD model missing at {path}", provider="silero", retryable=False
        )
    logger.info("loading Silero VAD from %s", path)
    return onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )


def load_silero_model() -> None:
    """Load the model now (at startup) rather than on the first frame of the first session."""
    _session()


class SileroVad(VoiceActivityDetector):
    """Speech probability from Silero VAD v6, with recurrent state kept across chunks."""

    name = "silero"
    frame_samples = CHUNK_SAMPLES

    def __init__(self) -> None:
        self._session = _session()
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)

    def speech_probability(self, frame_16k: npt.NDArray[np.int16]) -> float:
        if frame_16k.shape != (CHUNK_SAMPLES,):
            raise AudioFormatError(
                f"Silero VAD needs chunks of {CHUNK_SAMPLES} samples; got {frame_16k.shape}"
            )
        chunk = int16_to_float32(frame_16k)
        model_input = np.concatenate((self._context, chunk))[np.newaxis, :]
        probability, self._h, self._c = self._session.run(
            None, {"input": model_input, "h": self._h, "c": self._c}
        )
        self._context = chunk[-CONTEXT_SAMPLES:]
        return float(probability[0])

    def reset(self) -> None:
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
