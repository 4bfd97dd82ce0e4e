"""DNSMOS P.835: a non-intrusive estimate of speech quality (SIG, BAK, OVRL on 1-5).

The ONNX model is the one the `speechmos` package ships (Microsoft's DNS Challenge model,
MIT licence); it is read from the installed package, so nothing is fetched at run time. The
package's own runner imports librosa for the P.808 score only, which AURA does not use: this
module runs the P.835 model directly, with the package's windowing (9.01 s windows, 1 s hop,
short clips repeated to fill one) and its polynomial calibration.
"""

from __future__ import annotations

import importlib.resources
import threading
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

SAMPLE_RATE_HZ = 16_000
WINDOW_S = 9.01
WINDOW_SAMPLES = int(WINDOW_S * SAMPLE_RATE_HZ)
# Calibration of the raw model outputs to P.835 scores (speechmos.dnsmos, not personalized).
_SIG = np.poly1d([-0.08397278, 1.22083953, 0.0052439])
_BAK = np.poly1d([-0.13166888, 1.60915514, -0.39604546])
_OVRL = np.poly1d([-0.06766283, 1.11546468, 0.04602535])
# Shorter audio says little: below this nothing is scored.
MIN_SAMPLES = SAMPLE_RATE_HZ // 2

_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Mos:
    sig: float
    bak: float
    ovrl: float


@cache
def _session() -> ort.InferenceSession:
    model = importlib.resources.files("speechmos") / "dnsmos_models" / "sig_bak_ovr.onnx"
    options = ort.SessionOptions()
    # One thread: it runs in a Celery worker beside the voice service on a small machine.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    with importlib.resources.as_file(model) as path:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def dnsmos(audio_16k: npt.NDArray[np.int16]) -> Mos | None:
    """Score 16 kHz PCM16 speech; None for less than half a second.

    Longer audio is scored on its first window only: one model run (~0.15 s of one core)
    whatever the turn's length, which is what makes sampling it affordable.
    """
    if len(audio_16k) < MIN_SAMPLES:
        return None
    audio = audio_16k[:WINDOW_SAMPLES].astype(np.float32) / 32768.0
    while len(audio) < WINDOW_SAMPLES:
        audio = np.concatenate((audio, audio))
    hops = int(np.floor(len(audio) / SAMPLE_RATE_HZ) - WINDOW_S) + 1
    scores = []
    with _lock:
        session = _session()
        for hop in range(hops):
            segment = audio[hop * SAMPLE_RATE_HZ : hop * SAMPLE_RATE_HZ + WINDOW_SAMPLES]
            if len(segment) < WINDOW_SAMPLES:
                continue
            raw = session.run(None, {"input_1": segment[np.newaxis, :]})[0][0]
            scores.append((_SIG(raw[0]), _BAK(raw[1]), _OVRL(raw[2])))
    sig, bak, ovrl = (float(np.mean(column)) for column in zip(*scores, strict=True))
    return Mos(sig=round(sig, 3), bak=round(bak, 3), ovrl=round(ovrl, 3))
